"""/api/profiles/import and /api/profiles/import-repo/*: profile import from GitHub (decision 021).

Handlers parse and serialise; the fetching, the conflict rules and the saving are in
engine/profiles/importer.py and repo_import.py. Bodies are checked here before any download.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..engine.profiles import importer, repo_import
from ..engine.profiles.schema import error_text
from ._http import Body, Out, endpoint, ok, read_body, validate_body


class ImportBody(Body):
    url: str = Field(max_length=2000)


class SkillRef(Body):
    path: str


class RepoFields(Body):
    owner: str
    repo: str
    branch: str
    commit_sha: str | None = None
    repo_url: str | None = None


class PreviewBody(RepoFields):
    repo_readme: str | None = None
    skills: list[str | SkillRef] = Field(min_length=1, max_length=repo_import.MAX_SKILLS)


class ImportChoice(Body):
    path: str
    action: Literal["import", "replace", "skip"] = "import"


class ConfirmBody(RepoFields):
    imports: list[ImportChoice] = Field(min_length=1, max_length=repo_import.MAX_SKILLS)


class CheckBody(Body):
    repo_import_id: str | None = None
    profile_id: str | None = None


class UpdateChoice(Body):
    profile_id: str
    accept: bool


class ApplyBody(Body):
    updates: list[UpdateChoice] = Field(min_length=1, max_length=repo_import.MAX_SKILLS)


class ImportOut(Out):
    ok: bool
    id: str
    name: str


class RecordOut(Out):
    id: str
    repoUrl: str
    branch: str
    profileIds: list[str]
    skillCount: int


class ScanOut(Out):
    owner: str
    repo: str
    branch: str
    commitSha: str
    skills: list[dict]


class PreviewOut(Out):
    previews: list[dict]


class ConfirmOut(Out):
    ok: bool
    imported: int
    replaced: int
    skipped: int
    profileIds: list[str]


class CheckOut(Out):
    hasUpdates: bool
    updates: list[dict]


class ApplyOut(Out):
    ok: bool
    applied: int
    skipped: int


async def _body(request, model) -> dict:
    data = await read_body(request, plain=True)
    validate_body(model, data, plain=True, invalid=error_text)  # Zod style: `loc: message, …`
    return data


def _db(request):
    return request.app.state.db


@endpoint(body=ImportBody, response=ImportOut, status=201, errors=(400,))
async def import_profile(request):
    """Import one profile from a GitHub directory, profile.yaml or SKILL.md URL (or a direct link
    to a profile.yaml/SKILL.md on another server); the file next to it is fetched too."""
    data = await _body(request, ImportBody)
    return ok(await importer.import_one(_db(request), data["url"]), 201)


@endpoint(response=list[RecordOut])
async def list_repo_imports(request):
    """Repository imports, newest first: the imported profiles grouped by repository and branch."""
    return ok(await repo_import.records(_db(request)))


@endpoint(body=ImportBody, response=ScanOut, errors=(400,))
async def scan_repo(request):
    """Find the skills of a GitHub repository (or of one directory: a /tree/<branch>/<path> URL)."""
    data = await _body(request, ImportBody)
    return ok(await repo_import.scan(_db(request), data["url"]))


@endpoint(body=PreviewBody, response=PreviewOut, errors=(400,))
async def preview_repo(request):
    """Fetch the chosen skills and show each as it would be imported, with any conflict."""
    return ok(await repo_import.preview(_db(request), await _body(request, PreviewBody)))


@endpoint(body=ConfirmBody, response=ConfirmOut, status=201, errors=(400,))
async def confirm_repo(request):
    """Import the chosen skills; an id that exists needs `action: replace` or `skip`."""
    return ok(await repo_import.confirm(_db(request), await _body(request, ConfirmBody)), 201)


@endpoint(body=CheckBody, response=CheckOut, errors=(400, 404))
async def check_updates(request):
    """Compare imported profiles (one, or a repository import's) with their source now."""
    return ok(await repo_import.check_updates(_db(request), await _body(request, CheckBody)))


@endpoint(body=ApplyBody, response=ApplyOut, errors=(400,))
async def apply_updates(request):
    """Replace each accepted profile with its source's current version."""
    return ok(await repo_import.apply_updates(_db(request), await _body(request, ApplyBody)))


# Before /api/profiles/{id}: `import` and `import-repo` are not profile ids.
routes = [
    Route("/api/profiles/import", import_profile, methods=["POST"]),
    Route("/api/profiles/import-repo", list_repo_imports, methods=["GET"]),
    Route("/api/profiles/import-repo/scan", scan_repo, methods=["POST"]),
    Route("/api/profiles/import-repo/preview", preview_repo, methods=["POST"]),
    Route("/api/profiles/import-repo/confirm", confirm_repo, methods=["POST"]),
    Route("/api/profiles/import-repo/check-updates", check_updates, methods=["POST"]),
    Route("/api/profiles/import-repo/apply-updates", apply_updates, methods=["POST"]),
]

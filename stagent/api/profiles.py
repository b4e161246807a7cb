"""/api/profiles: list, CRUD of user profiles, smoke tests, assist (9 of §2.7; context, import
and import-repo live in their own modules). Behaviour is in engine/profiles/."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..engine.profiles import assist as assist_engine
from ..engine.profiles import smoke
from ..engine.profiles.registry import ProfileRegistry
from ..engine.profiles.schema import ProfileConfig
from ..errors import Invalid
from ..store import profiles as store
from ._http import Body, Int, Out, endpoint, ok, read_body, read_query

SCOPES = ("builtin", "user", "project", "all")


class ListQuery(Body):
    scope: Literal["builtin", "user", "project", "all"] | None = None
    project_id: str | None = None


class ResultsQuery(Body):
    runtime_id: str | None = Field(default=None, max_length=100)


class TestRun(Body):
    runtime_id: str | None = Field(default=None, max_length=100)


class TestSingle(Body):
    test_index: Int = Field(ge=0)
    runtime_id: str | None = Field(default=None, max_length=100)


class AssistBody(Body):
    goal: str = Field(min_length=1, max_length=4000)
    domain: Literal["work", "personal"] | None = None
    mode: Literal["generate", "refine", "refine-skillmd", "suggest-tests"] = "generate"
    existing_skill_md: str | None = Field(default=None, max_length=100_000)
    existing_tags: list[str] | None = None
    runtime_id: str | None = Field(default=None, max_length=100)


class ProfileBody(ProfileConfig):
    """POST/PUT body (documentation: the handler validates the raw object with ProfileConfig)."""

    skillMd: str | None = Field(default=None, max_length=200_000)


class CreatedOut(Out):
    ok: bool
    id: str


class ProfileOut(Out):
    id: str
    name: str
    description: str
    domain: str
    tags: list[str]
    skillMd: str
    version: str
    isBuiltin: bool
    scope: str
    origin: str
    readOnly: bool


class OkOut(Out):
    ok: bool


def _registry(request) -> ProfileRegistry:
    return ProfileRegistry(request.app.state.db)


async def _config_body(request) -> tuple[dict, str]:
    """(ProfileConfig fields, SKILL.md) from a POST/PUT body; errors are one sentence."""
    data = await read_body(request, plain=True)
    skill_md = data.pop("skillMd", None)
    if skill_md is not None and not isinstance(skill_md, str):
        raise Invalid("skillMd: must be a string")
    if len(skill_md or "") > 200_000:
        raise Invalid("skillMd: must be at most 200000 characters")
    for key in ("isBuiltin", "scope", "origin", "readOnly", "description"):
        data.pop(key, None)  # read-only fields of GET's answer, sent back by an edit form
    if not skill_md:
        name = data.get("name") if isinstance(data.get("name"), str) else "Profile"
        skill_md = f"---\nname: {name}\ndescription: {name}\n---\n\n# {name}\n"
    return data, skill_md


@endpoint(query=ListQuery, response=list[ProfileOut], errors=(400,))
async def list_profiles(request):
    """Profiles sorted by name; scope `all` adds the project's (projectId), `project` is only them."""
    query = read_query(request, ListQuery)
    return ok(await _registry(request).list(query.scope, query.project_id))


@endpoint(body=ProfileBody, response=CreatedOut, status=201, errors=(400,))
async def create_profile(request):
    """Create a user profile: ProfileConfig fields + skillMd."""
    config, skill_md = await _config_body(request)
    profile = await _registry(request).create(config, skill_md)
    return ok({"ok": True, "id": profile["id"]}, 201)


@endpoint(response=ProfileOut, errors=(404,))
async def get_profile(request):
    """One profile (`projectId` query finds a project-scoped one)."""
    return ok(await _registry(request).get(request.path_params["id"], request.query_params.get("projectId")))


@endpoint(body=ProfileBody, response=OkOut, errors=(400, 403, 404))
async def replace_profile(request):
    """Replace a user profile's config and SKILL.md; built-in and read-only ones are 403."""
    config, skill_md = await _config_body(request)
    if config.get("id") != request.path_params["id"]:  # a full ProfileConfig: its id is required
        raise Invalid("id: must be the profile's id (it cannot change)")
    await _registry(request).replace(request.path_params["id"], config, skill_md)
    return ok({"ok": True})


@endpoint(response=OkOut, errors=(403, 404))
async def delete_profile(request):
    """Delete a user profile; built-in and read-only ones are 403."""
    await _registry(request).delete(request.path_params["id"])
    return ok({"ok": True})


@endpoint(body=TestRun, errors=(400, 404, 429))
async def test_profile(request):
    """Run every smoke test of the profile through the model; the report is saved."""
    profile = await _registry(request).get(request.path_params["id"])
    body = await read_body(request, TestRun)
    return ok(await smoke.run_all(request.app.state.db, request.app.state.budgets, profile, body.runtime_id))


@endpoint(body=TestSingle, errors=(400, 404, 429))
async def test_single(request):
    """Run smoke test #testIndex (not saved)."""
    profile = await _registry(request).get(request.path_params["id"])
    body = await read_body(request, TestSingle)
    return ok(await smoke.run_single(request.app.state.db, request.app.state.budgets, profile,
                                     body.test_index, body.runtime_id))


@endpoint(query=ResultsQuery, errors=(400, 404))
async def test_results(request):
    """The latest saved smoke-test report (404 with body null when there is none)."""
    query = read_query(request, ResultsQuery)
    report = await store.latest_report(request.app.state.db, request.path_params["id"], query.runtime_id)
    return ok(report, 200 if report is not None else 404)


test_results.__openapi__["null_on"] = (404,)  # the catalog's 404 body is `null`, not an error


@endpoint(body=AssistBody, errors=(400, 429, 500))
async def assist_profile(request):
    """The model drafts or refines a valid ProfileConfig + SKILL.md."""
    body = await read_body(request, AssistBody)
    if not body.goal.strip():
        raise Invalid("goal must not be blank", field_errors={"goal": ["goal must not be blank"]}, form_errors=[])
    return ok(await assist_engine.assist(
        request.app.state.db, request.app.state.budgets, goal=body.goal, domain=body.domain, mode=body.mode,
        existing_skill_md=body.existing_skill_md, existing_tags=body.existing_tags, runtime_id=body.runtime_id))


routes = [
    Route("/api/profiles", list_profiles, methods=["GET"]),
    Route("/api/profiles", create_profile, methods=["POST"]),
    Route("/api/profiles/assist", assist_profile, methods=["POST"]),
    Route("/api/profiles/{id}", get_profile, methods=["GET"]),
    Route("/api/profiles/{id}", replace_profile, methods=["PUT"]),
    Route("/api/profiles/{id}", delete_profile, methods=["DELETE"]),
    Route("/api/profiles/{id}/test", test_profile, methods=["POST"]),
    Route("/api/profiles/{id}/test-single", test_single, methods=["POST"]),
    Route("/api/profiles/{id}/test-results", test_results, methods=["GET"]),
]

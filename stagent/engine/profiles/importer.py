"""Profile import from GitHub (decision 021): turning fetched files into a profile, importing
one profile from a URL, and the shared steps of repository imports (repo_import.py).

A profile fetched is a (config, SKILL.md) pair built from `profile.yaml` + `SKILL.md`, or from a
SKILL.md alone whose front matter names the skill (the directory name is then its id). The
config carries `importMeta`: where it came from (repoUrl, owner, repo, branch, filePath,
commitSha or the file URL) and `contentHash` (sha256 of the two files), which update checks
compare. Saving goes through the profile registry (`ProfileRegistry.create` / `.replace`), so
an import obeys the same validation and read-only rules as a profile made by hand.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from ...db import Database
from ...db.rows import now_iso
from ...errors import Invalid
from .github import GitHub, Location
from .registry import ProfileRegistry
from .schema import split_skill, validate_config

MAX_YAML_DEPTH = 16
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SLUG = re.compile(r"[^a-z0-9._-]+")
RESERVED_IDS = frozenset({"import-repo"})  # GET /api/profiles/import-repo is the records list


@dataclass
class Fetched:
    """One profile as found upstream, ready to save."""

    config: dict
    skill_md: str
    content_hash: str
    path: str
    has_profile_yaml: bool


def content_hash(profile_yaml: str | None, skill_md: str | None) -> str:
    digest = hashlib.sha256()
    for part in (profile_yaml or "", skill_md or ""):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def slug(text: str) -> str:
    return _SLUG.sub("-", text.strip().lower()).strip("-._")[:100]


def load_profile_yaml(text: str, where: str) -> dict:
    """profile.yaml as a mapping; no aliases, bounded nesting (a small file cannot expand)."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise Invalid(f"Invalid profile.yaml at {where}: nested too deeply")
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                raise Invalid(f"Invalid profile.yaml at {where}: YAML aliases are not supported")
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise Invalid(f"Invalid profile.yaml at {where}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise Invalid(f"Invalid profile.yaml at {where}: expected a mapping of fields")
    return data


def skill_front_matter(skill_md: str | None) -> dict:
    meta, _ = split_skill(skill_md or "")
    return meta


def build(profile_yaml: str | None, skill_md: str | None, *, where: str, dir_name: str,
          author: str | None, meta: dict) -> tuple[dict, str]:
    """The validated config and SKILL.md text; Invalid (naming `where`) when they do not make a
    profile."""
    if profile_yaml is not None:
        raw = load_profile_yaml(profile_yaml, where)
    else:
        front = skill_front_matter(skill_md)
        name = front.get("name")
        if not skill_md or not isinstance(name, str) or not name.strip():
            raise Invalid(f"No profile at {where}: a profile.yaml, or a SKILL.md whose front matter "
                          "has a name, is needed")
        raw = {"id": slug(dir_name) or slug(name), "name": name.strip()[:200], "version": "1.0.0",
               "domain": "work", "tags": []}
        if author:
            raw["author"] = author
    raw = {"version": "1.0.0", "domain": "work", "tags": [], **raw}
    if isinstance(raw.get("id"), str):
        raw["id"] = raw["id"].strip()
    if raw.get("id") in RESERVED_IDS:
        raise Invalid(f"Invalid profile at {where}: the id '{raw['id']}' is a route name (/api/profiles/{raw['id']})")
    source = meta.get("repoUrl") or meta.get("sourceUrl")
    if source and not raw.get("source"):
        raw["source"] = source
    raw["importMeta"] = meta
    try:
        return validate_config(raw), skill_md or ""
    except ValueError as exc:
        raise Invalid(f"Invalid profile at {where}: {exc}") from None


async def fetch_profile(gh: GitHub, where: Location, *, meta: dict) -> Fetched:
    """Download profile.yaml and SKILL.md of one directory (either may be missing, not both)."""
    plain = where.base is not None
    profile_yaml = await gh.text(gh.raw_url(where, "profile.yaml"), missing_ok=True, extra_origin=plain)
    skill_md = await gh.text(gh.raw_url(where, "SKILL.md"), missing_ok=True, extra_origin=plain)
    label = where.base if plain else f"{where.owner}/{where.repo}/{where.path or '.'}@{where.ref}"
    if profile_yaml is None and skill_md is None:
        raise Invalid(f"No profile.yaml or SKILL.md found at {label}")
    digest = content_hash(profile_yaml, skill_md)
    dir_name = (where.path.rsplit("/", 1)[-1] if where.path else (where.repo or "")) if not plain \
        else where.base.rstrip("/").rsplit("/", 1)[-1]
    config, text = build(profile_yaml, skill_md, where=label, dir_name=dir_name, author=where.owner,
                         meta={**meta, "contentHash": digest, "importedAt": now_iso()})
    return Fetched(config, text, digest, where.path, profile_yaml is not None)


def profile_dir(where: Location) -> Location:
    """A URL may name the directory, its profile.yaml or its SKILL.md: the directory."""
    if where.base is not None:
        return where
    path = where.path
    if path.rsplit("/", 1)[-1] in ("profile.yaml", "SKILL.md"):
        path = path.rsplit("/", 1)[0] if "/" in path else ""
    return Location(where.owner, where.repo, where.ref, path)


def location_meta(where: Location, commit_sha: str | None = None) -> dict:
    if where.base is not None:
        return {"sourceUrl": where.base}
    return {"repoUrl": where.repo_url, "owner": where.owner, "repo": where.repo, "branch": where.ref,
            "filePath": where.path, "commitSha": commit_sha}


def meta_location(meta: dict) -> Location:
    """Where an imported profile's importMeta says it came from."""
    if meta.get("sourceUrl"):
        return Location(base=meta["sourceUrl"])
    return Location(meta.get("owner"), meta.get("repo"), meta.get("branch"), meta.get("filePath") or "")


async def import_one(db: Database, url: Any) -> dict:
    """POST /api/profiles/import: fetch and save one profile; {ok, id, name}."""
    gh = await GitHub.configured(db)
    where = gh.parse(url, allow_plain=True)
    if where.base is None and where.ref is None:
        raise Invalid("The url names a whole repository: point at a profile's directory "
                      "(https://github.com/<owner>/<repo>/tree/<branch>/<path>), or scan the repository "
                      "with /api/profiles/import-repo/scan")
    where = profile_dir(where)
    async with gh.session():
        fetched = await fetch_profile(gh, where, meta=location_meta(where))
    saved = await ProfileRegistry(db).create(fetched.config, fetched.skill_md, origin="import")
    return {"ok": True, "id": saved["id"], "name": saved["name"]}


async def head_sha(gh: GitHub, owner: str, repo: str, ref: str) -> str:
    """The commit a branch (or tag, or sha) names now."""
    data = await gh.api(gh.api_url(owner, repo, f"/commits/{ref}"),
                        not_found=f"{owner}/{repo} has no branch or commit {ref!r} (or the repository "
                                  "is private or does not exist)")
    sha = data.get("sha") if isinstance(data, dict) else None
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        raise Invalid(f"GitHub's answer for {owner}/{repo}@{ref} has no commit sha")
    return sha

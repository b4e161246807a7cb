"""Repository imports of profiles (decision 021): scan a GitHub repository for skills, preview
them against the profiles that exist, import with a replace/skip choice per conflict, and
check for / apply upstream changes.

A skill is a directory holding a SKILL.md whose front matter names it, or a profile.yaml next
to a SKILL.md. The scan reads the repository's tree through the GitHub API (one commit, so a
scan, its preview and its import all see the same files) and the files through raw downloads.

A "repo import" record is not a table of its own: it is the group of imported profiles whose
importMeta names the same repository and branch (id `ri-<hash of both>`). It therefore never
disagrees with the profiles that exist; a record whose profiles were all deleted is gone.

Every step downloads everything it needs before it writes anything, so a network failure
(offline, a host that is not allowed, a file over the cap) is a 400 that changed nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from ...db import Database
from ...db.rows import now_iso
from ...errors import ApiError, Invalid, NotFound
from ...store import profile_imports as import_store
from ...store import profiles as profile_store
from .github import FetchFailed, GitHub, Location, check_path, check_ref, check_segment
from .importer import Fetched, fetch_profile, head_sha, location_meta, meta_location
from .registry import ProfileRegistry
from .schema import description_of

MAX_SKILLS = 100  # skills one scan reports (and one preview or import takes)
PARALLEL = 4  # downloads at a time


def record_id(repo_url: str, branch: str) -> str:
    return "ri-" + hashlib.sha256(f"{repo_url.lower()}\n{branch}".encode()).hexdigest()[:16]


async def _gather(items: list, fetch) -> list:
    """fetch(item) for each, PARALLEL at a time; a FetchFailed cancels the rest and is raised,
    any other ApiError is returned in the item's place."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item):
        async with gate:
            try:
                return await fetch(item)
            except FetchFailed:
                raise
            except ApiError as exc:
                return exc

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [t.result() for t in tasks]


def _unwrap_group(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) >= 1:
        exc = exc.exceptions[0]
    return exc


async def _gather_or_raise(items: list, fetch) -> list:
    try:
        return await _gather(items, fetch)
    except BaseExceptionGroup as group:
        raise _unwrap_group(group) from None


async def _existing(db: Database) -> dict[str, dict]:
    return {p["id"]: p for p in await ProfileRegistry(db).list("all")}


def _summary(fetched: Fetched) -> dict:
    c = fetched.config
    return {"path": fetched.path, "id": c["id"], "name": c["name"], "description": description_of(fetched.skill_md),
            "version": c["version"], "domain": c["domain"], "tags": c.get("tags", []),
            "hasProfileYaml": fetched.has_profile_yaml, "format": "stagent" if fetched.has_profile_yaml else "skill"}


# ---- scan ------------------------------------------------------------------------------------

async def scan(db: Database, url: Any) -> dict:
    gh = await GitHub.configured(db)
    where = gh.parse(url, allow_plain=False)
    async with gh.session():
        return await _scan(db, gh, where)


async def _scan(db: Database, gh: GitHub, where: Location) -> dict:
    owner, repo = where.owner, where.repo
    info = await gh.api(gh.api_url(owner, repo),
                        not_found=f"Repository {owner}/{repo} was not found on GitHub (or it is private)")
    branch = where.ref or (info.get("default_branch") if isinstance(info, dict) else None) or "main"
    check_ref(branch)
    sha = await head_sha(gh, owner, repo, branch)
    tree = await gh.api(gh.api_url(owner, repo, f"/git/trees/{sha}?recursive=1"),
                        not_found=f"The tree of {owner}/{repo}@{sha} was not found")
    entries = tree.get("tree") if isinstance(tree, dict) else None
    if not isinstance(entries, list):
        raise FetchFailed(f"GitHub's tree answer for {owner}/{repo}@{sha} has no tree")
    under = where.path
    dirs: dict[str, set[str]] = {}
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or entry.get("type") != "blob":
            continue
        try:
            path = check_path(path)  # a crafted tree cannot send a download elsewhere with '..'
        except Invalid:
            continue
        folder, _, name = path.rpartition("/")
        if name in ("SKILL.md", "profile.yaml") and (not under or folder == under or folder.startswith(under + "/")):
            dirs.setdefault(folder, set()).add(name)
    candidates = sorted(d for d, names in dirs.items() if "SKILL.md" in names)
    more = len(candidates) > MAX_SKILLS
    candidates = candidates[:MAX_SKILLS]
    meta = {"repoUrl": where.repo_url, "owner": owner, "repo": repo, "branch": branch, "commitSha": sha}

    async def fetch(folder: str):
        return await fetch_profile(gh, Location(owner, repo, sha, folder), meta={**meta, "filePath": folder})

    results = await _gather_or_raise(candidates, fetch)
    existing = await _existing(db)
    skills, skipped = [], []
    for folder, result in zip(candidates, results, strict=True):
        if isinstance(result, ApiError):
            skipped.append({"path": folder, "reason": result.message})
            continue
        skills.append({**_summary(result), "exists": result.config["id"] in existing})
    return {"owner": owner, "repo": repo, "branch": branch, "commitSha": sha, "repoUrl": where.repo_url,
            "description": info.get("description") if isinstance(info, dict) else None,
            "skills": skills, "skillCount": len(skills), "skipped": skipped,
            "truncated": bool(tree.get("truncated")) or more}


# ---- preview and confirm -------------------------------------------------------------------------

def _repo_body(data: dict) -> tuple[str, str, str, str | None]:
    owner = check_segment(data.get("owner"), "owner")
    repo = check_segment(data.get("repo"), "repo")
    branch = check_ref(data.get("branch"), "branch")
    sha = data.get("commitSha")
    if sha is not None:
        sha = check_ref(sha, "commitSha")
    return owner, repo, branch, sha


def _skill_path(item: Any, field: str) -> str:
    path = item.get("path") if isinstance(item, dict) else item
    if not isinstance(path, str):
        raise Invalid(f"{field}: each item needs a path (a directory in the repository)")
    return check_path(path, f"{field} path")


async def _fetch_selected(db: Database, data: dict, paths: list[str]) -> tuple[list, dict]:
    owner, repo, branch, sha = _repo_body(data)
    gh = await GitHub.configured(db)
    sha = sha or await head_sha(gh, owner, repo, branch)
    meta = location_meta(Location(owner, repo, branch), sha)

    async def fetch(path: str):
        return await fetch_profile(gh, Location(owner, repo, sha, path), meta={**meta, "filePath": path})

    async with gh.session():
        return await _gather_or_raise(paths, fetch), meta


def _list_field(data: dict, field: str) -> list:
    items = data.get(field)
    if not isinstance(items, list) or not items:
        raise Invalid(f"{field} must be a non-empty array")
    if len(items) > MAX_SKILLS:
        raise Invalid(f"{field} has more than {MAX_SKILLS} items")
    return items


def _conflict(profile: dict | None) -> dict | None:
    if profile is None:
        return None
    return {"id": profile["id"], "name": profile["name"], "version": profile.get("version"),
            "scope": profile["scope"], "readOnly": profile["readOnly"]}


async def preview(db: Database, data: dict) -> dict:
    paths = [_skill_path(item, "skills") for item in _list_field(data, "skills")]
    results, _ = await _fetch_selected(db, data, paths)
    existing = await _existing(db)
    previews = []
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, ApiError):
            previews.append({"path": path, "error": result.message})
            continue
        conflict = _conflict(existing.get(result.config["id"]))
        previews.append({**_summary(result), "skillMd": result.skill_md, "config": result.config,
                         "contentHash": result.content_hash, "conflict": conflict,
                         "canReplace": conflict is not None and not conflict["readOnly"]})
    return {"previews": previews}


async def confirm(db: Database, data: dict) -> dict:
    items = _list_field(data, "imports")
    chosen: list[tuple[str, str]] = []
    for item in items:
        action = item.get("action", "import") if isinstance(item, dict) else "import"
        if action not in ("import", "replace", "skip"):
            raise Invalid("imports: action must be import, replace or skip")
        chosen.append((_skill_path(item, "imports"), action))
    wanted = [path for path, action in chosen if action != "skip"]
    results, _ = await _fetch_selected(db, data, wanted) if wanted else ([], {})
    fetched = dict(zip(wanted, results, strict=True))
    registry = ProfileRegistry(db)
    existing = await _existing(db)
    imported = replaced = skipped = 0
    ids, errors = [], []
    for path, action in chosen:
        if action == "skip":
            skipped += 1
            continue
        result = fetched[path]
        if isinstance(result, ApiError):
            errors.append({"path": path, "error": result.message})
            continue
        pid = result.config["id"]
        try:
            if pid in existing:
                if action != "replace":
                    raise Invalid(f"A profile with id '{pid}' already exists: choose replace or skip")
                await registry.replace(pid, result.config, result.skill_md)
                replaced += 1
            else:
                await registry.create(result.config, result.skill_md, origin="import")
                imported += 1
            existing[pid] = {"id": pid}
            ids.append(pid)
        except ApiError as exc:
            errors.append({"path": path, "id": pid, "error": exc.message})
    out = {"ok": True, "imported": imported, "replaced": replaced, "skipped": skipped, "profileIds": ids}
    if errors:
        out["errors"] = errors
    return out


# ---- records -----------------------------------------------------------------------------------

async def _imported(db: Database) -> list[dict]:
    """User profiles with an importMeta: their stored config and SKILL.md."""
    return [row for row in await profile_store.list_user(db) if isinstance(row["config"].get("importMeta"), dict)]


async def records(db: Database) -> list[dict]:
    groups: dict[str, dict] = {}
    for row in await _imported(db):
        meta = row["config"]["importMeta"]
        if not meta.get("repoUrl") or not meta.get("branch"):
            continue
        rid = record_id(meta["repoUrl"], meta["branch"])
        imported_at = meta.get("importedAt") or row["createdAt"]
        group = groups.setdefault(rid, {
            "id": rid, "repoUrl": meta["repoUrl"], "repoOwner": meta.get("owner"), "repoName": meta.get("repo"),
            "branch": meta["branch"], "commitSha": meta.get("commitSha"), "profileIds": [], "skillCount": 0,
            "lastCheckedAt": None, "createdAt": imported_at, "_latest": ""})
        group["profileIds"].append(row["config"]["id"])
        group["skillCount"] += 1
        group["createdAt"] = min(group["createdAt"], imported_at)
        if imported_at >= group["_latest"]:
            group["_latest"], group["commitSha"] = imported_at, meta.get("commitSha")
        checked = meta.get("lastCheckedAt")
        if checked and (group["lastCheckedAt"] is None or checked > group["lastCheckedAt"]):
            group["lastCheckedAt"] = checked
    found = [{k: v for k, v in g.items() if k != "_latest"} for g in groups.values()]
    return sorted(found, key=lambda g: g["createdAt"], reverse=True)


# ---- updates -----------------------------------------------------------------------------------

async def _targets(db: Database, data: dict) -> list[dict]:
    rid, pid = data.get("repoImportId"), data.get("profileId")
    if not isinstance(rid, str) and not isinstance(pid, str):
        raise Invalid("repoImportId or profileId is required")
    rows = await _imported(db)
    if isinstance(rid, str):
        chosen = [r for r in rows if r["config"]["importMeta"].get("repoUrl") and record_id(
            r["config"]["importMeta"]["repoUrl"], r["config"]["importMeta"].get("branch") or "") == rid]
        if not chosen:
            raise NotFound("Repo import not found")
        return chosen
    row = await profile_store.get_user(db, pid)
    if row is None:
        raise NotFound("Profile not found")
    if not isinstance(row["config"].get("importMeta"), dict):
        raise Invalid(f"Profile '{pid}' was not imported from a URL; there is nothing to compare")
    return [row]


async def _latest(db: Database, rows: list[dict]) -> list:
    """Each row's upstream profile now (Fetched), None when the commit did not move, or an
    ApiError for a file that no longer makes a profile."""
    gh = await GitHub.configured(db)
    async with gh.session():
        return await _latest_in(gh, rows)


async def _latest_in(gh: GitHub, rows: list[dict]) -> list:
    heads: dict[tuple, str] = {}
    for row in rows:
        meta = row["config"]["importMeta"]
        if meta.get("owner"):
            key = (meta["owner"], meta["repo"], meta["branch"])
            if key not in heads:
                heads[key] = await head_sha(gh, check_segment(meta["owner"], "owner"),
                                            check_segment(meta["repo"], "repo"), check_ref(meta["branch"]))

    async def fetch(row: dict):
        meta = row["config"]["importMeta"]
        where = meta_location(meta)
        if where.base is None:
            sha = heads[(meta["owner"], meta["repo"], meta["branch"])]
            if sha == meta.get("commitSha"):
                return None
            new_meta = {**location_meta(where, sha)}
            where = Location(where.owner, where.repo, sha, where.path)
        else:
            new_meta = location_meta(where)
        fetched = await fetch_profile(gh, where, meta=new_meta)
        fetched.config["id"] = row["config"]["id"]
        return fetched

    return await _gather_or_raise(rows, fetch)


async def check_updates(db: Database, data: dict) -> dict:
    rows = await _targets(db, data)
    latest = await _latest(db, rows)
    updates, errors = [], []
    for row, now in zip(rows, latest, strict=True):
        meta = row["config"]["importMeta"]
        if isinstance(now, ApiError):
            errors.append({"profileId": row["config"]["id"], "error": now.message})
        elif now is not None and now.content_hash != meta.get("contentHash"):
            updates.append({"profileId": row["config"]["id"], "name": row["config"].get("name"),
                            "path": meta.get("filePath") or meta.get("sourceUrl"),
                            "currentVersion": row["config"].get("version"), "latestVersion": now.config["version"],
                            "currentCommitSha": meta.get("commitSha"),
                            "latestCommitSha": now.config["importMeta"].get("commitSha"),
                            "currentHash": meta.get("contentHash"), "latestHash": now.content_hash,
                            "skillMd": now.skill_md})
    await import_store.stamp_checked(db, [row["config"]["id"] for row in rows], now_iso())
    out = {"hasUpdates": bool(updates), "updates": updates}
    if errors:
        out["errors"] = errors
    return out


async def apply_updates(db: Database, data: dict) -> dict:
    items = _list_field(data, "updates")
    accepted, skipped, errors = [], 0, []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("profileId"), str) \
                or not isinstance(item.get("accept"), bool):
            raise Invalid("updates: each item needs profileId (string) and accept (boolean)")
        if not item["accept"]:
            skipped += 1
            continue
        row = await profile_store.get_user(db, item["profileId"])
        if row is None or not isinstance(row["config"].get("importMeta"), dict):
            errors.append({"profileId": item["profileId"], "error": "Profile not found, or not imported"})
            continue
        accepted.append(row)
    latest = await _latest(db, accepted) if accepted else []
    registry = ProfileRegistry(db)
    applied = 0
    for row, now in zip(accepted, latest, strict=True):
        pid = row["config"]["id"]
        if now is None or (not isinstance(now, ApiError) and now.content_hash == row["config"]["importMeta"].get(
                "contentHash")):
            skipped += 1  # nothing changed upstream
            continue
        try:
            if isinstance(now, ApiError):
                raise now
            await registry.replace(pid, now.config, now.skill_md)
            applied += 1
        except ApiError as exc:
            errors.append({"profileId": pid, "error": exc.message})
    out = {"ok": True, "applied": applied, "skipped": skipped}
    if errors:
        out["errors"] = errors
    return out

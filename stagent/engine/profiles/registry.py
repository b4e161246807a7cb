"""Where profiles come from and which one an id means.

Sources, in precedence order (the first holding an id wins it):
1. built-ins shipped in the package (`stagent/profiles/<id>/profile.yaml` + `SKILL.md`), read-only;
2. user profiles stagent stores (the `profiles` table), editable;
3. the user's Claude Code skills (`$STAGENT_SKILLS_HOME`, default `~/.claude/skills/`), scope
   `user`, read-only;
4. a project's skills (`<workingDirectory>/.claude/skills/`), scope `project`, read-only.

Invariant: every profile returned has a valid config (schema.validate_config); a broken one on
disk is skipped with a warning. Reads only: no writes but through the store.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path

import yaml

from ...db import Database
from ...errors import Forbidden, Invalid, NotFound
from ...store import profiles as store
from ...store import projects as project_store
from ..workflows.prompts import step_profile
from .schema import description_of, split_skill, validate_config

log = logging.getLogger("stagent.profiles")

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "profiles"
SKILLS_HOME_ENV = "STAGENT_SKILLS_HOME"


def skills_home() -> Path:
    env = os.environ.get(SKILLS_HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".claude" / "skills"


def _shape(config: dict, skill_md: str, *, scope: str, origin: str) -> dict:
    read_only = scope != "user" or origin == "claude-skills"
    return {**config, "description": description_of(skill_md), "skillMd": skill_md,
            "isBuiltin": scope == "builtin", "scope": scope, "origin": origin, "readOnly": read_only}


def _read_dir(folder: Path, *, scope: str, origin: str) -> dict | None:
    """A profile from a skill folder: profile.yaml + SKILL.md, or SKILL.md alone (its front matter
    names it; the folder name is its id)."""
    skill_path = folder / "SKILL.md"
    try:
        skill_md = skill_path.read_text(encoding="utf-8") if skill_path.is_file() else ""
        yaml_path = folder / "profile.yaml"
        raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) if yaml_path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.warning("profile %s is not readable: %s", folder, exc)
        return None
    if raw is None and not skill_md:
        return None
    meta, _ = split_skill(skill_md)
    if not isinstance(raw, dict):
        raw = {"id": re.sub(r"[^a-z0-9._-]+", "-", folder.name.lower()).strip("-._") or "skill",
               "name": str(meta.get("name") or folder.name),
               "version": "1.0.0", "domain": "work", "tags": []}
    try:
        config = validate_config(raw)
    except ValueError as exc:
        log.warning("profile %s is not valid and is skipped: %s", folder, exc)
        return None
    return _shape(config, skill_md, scope=scope, origin=origin)


def _scan(root: Path, *, scope: str, origin: str) -> list[dict]:
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        profile = _read_dir(folder, scope=scope, origin=origin)
        if profile is not None:
            found.append(profile)
    return found


@functools.lru_cache(maxsize=1)
def builtins() -> tuple[dict, ...]:
    """The shipped profiles (read once: they never change while we run)."""
    return tuple(_scan(BUILTIN_DIR, scope="builtin", origin="manual"))


def builtin_ids() -> frozenset[str]:
    return frozenset(p["id"] for p in builtins())


class ProfileRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _stored(self) -> list[dict]:
        found = []
        for row in await store.list_user(self.db):
            try:
                config = validate_config(row["config"])
            except ValueError as exc:
                log.warning("stored profile %s is not valid: %s", row["config"].get("id"), exc)
                continue
            found.append(_shape(config, row["skillMd"], scope="user", origin=row["origin"]))
        return found

    async def _project(self, project_id: str | None) -> list[dict]:
        if not project_id:
            return []
        wd = await project_store.working_directory(self.db, project_id)
        if not wd:
            return []
        return _scan(Path(wd).expanduser() / ".claude" / "skills", scope="project", origin="manual")

    async def list(self, scope: str | None = None, project_id: str | None = None) -> list[dict]:
        """Sorted by name. scope None: builtin + user; `all`: + project; `project`: project only;
        `builtin` / `user`: that scope only."""
        if scope == "project":
            layers = [await self._project(project_id)]
        else:
            layers = [list(builtins()), await self._stored(),
                      _scan(skills_home(), scope="user", origin="claude-skills")]
            if scope == "all":
                layers.append(await self._project(project_id))
        seen: dict[str, dict] = {}
        for layer in layers:
            for profile in layer:
                seen.setdefault(profile["id"], profile)
        found = list(seen.values())
        if scope in ("builtin", "user"):
            found = [p for p in found if p["scope"] == scope]
        return sorted(found, key=lambda p: (p["name"].lower(), p["id"]))

    async def find(self, profile_id: str, project_id: str | None = None) -> dict | None:
        """The profile with this id, or None. Built-ins and stored ones without scanning folders
        (every task run asks)."""
        for profile in builtins():
            if profile["id"] == profile_id:
                return profile
        row = await store.get_user(self.db, profile_id)
        if row is not None:
            try:
                return _shape(validate_config(row["config"]), row["skillMd"], scope="user", origin=row["origin"])
            except ValueError:
                return None
        for profile in await self.list("all", project_id):
            if profile["id"] == profile_id:
                return profile
        return None

    async def get(self, profile_id: str, project_id: str | None = None) -> dict:
        profile = await self.find(profile_id, project_id)
        if profile is None:
            raise NotFound("Profile not found")
        return profile

    # ---- user profiles --------------------------------------------------------------------------

    async def create(self, config: dict, skill_md: str, origin: str = "manual") -> dict:
        config = _valid(config)
        if await self.find(config["id"]) is not None or not await store.insert_user(
                self.db, config, skill_md, origin):
            raise Invalid(f"A profile with id '{config['id']}' already exists")
        return await self.get(config["id"])

    async def replace(self, profile_id: str, config: dict, skill_md: str) -> dict:
        current = await self.get(profile_id)
        _writable(current)
        config = _valid({**config, "id": profile_id})
        await store.replace_user(self.db, profile_id, config, skill_md)
        return await self.get(profile_id)

    async def delete(self, profile_id: str) -> None:
        _writable(await self.get(profile_id))
        await store.delete_user(self.db, profile_id)

    # ---- checks other domains make ----------------------------------------------------------

    async def check_reference(self, profile_id: str | None, runtime_id: str | None = None,
                              project_id: str | None = None, *, flatten: bool = True) -> None:
        """400 for an unknown profile or one that does not support the named runtime (the Zod
        flatten shape, or with flatten=False one sentence); None and `auto` pass."""
        if not profile_id or profile_id == "auto":
            return
        profile = await self.find(profile_id, project_id)
        try:
            if profile is None:
                raise Invalid(f"Unknown profile '{profile_id}'")
            check_runtime(profile, runtime_id)
        except Invalid as exc:
            if not flatten:
                raise
            raise Invalid(exc.message, field_errors={"agentProfile": [exc.message]}, form_errors=[]) from None


async def check_steps(registry: ProfileRegistry, definition: dict, project_id: str | None = None) -> None:
    """400 when a workflow step (or the loop's config) names an unknown or runtime-unfit profile."""
    for index, step in enumerate(definition.get("steps") or []):
        if isinstance(step, dict):
            try:
                await registry.check_reference(step_profile(step), step.get("assignedAgent"), project_id,
                                               flatten=False)
            except Invalid as exc:
                raise Invalid(f"steps[{index}]: {exc.message}") from None
    loop = definition.get("loopConfig")
    if isinstance(loop, dict) and isinstance(loop.get("agentProfile"), str):
        await registry.check_reference(loop["agentProfile"], loop.get("assignedAgent"), project_id, flatten=False)


def check_runtime(profile: dict, runtime_id: str | None) -> None:
    supported = profile.get("supportedRuntimes")
    if runtime_id and supported and runtime_id not in supported:
        raise Invalid(f"Profile '{profile['id']}' does not support runtime '{runtime_id}' "
                      f"(it supports: {', '.join(supported)})")


def _valid(config: dict) -> dict:
    try:
        return validate_config(config)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _writable(profile: dict) -> None:
    if profile["scope"] == "builtin":
        raise Forbidden("Built-in profiles cannot be modified")
    if profile["readOnly"]:
        raise Forbidden(f"{profile['scope'].capitalize()}-scoped profiles are read-only")

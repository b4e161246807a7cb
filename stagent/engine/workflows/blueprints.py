"""Blueprints: the registry of built-in and user templates, instantiation, import (decision 014).

Built-ins ship in `stagent/blueprints/*.yaml`; the user's live in `<data dir>/blueprints/*.yaml`
and override a built-in with the same id. User files are re-read when they change (a file
dropped into the folder by hand shows up on the next list); one that does not validate is
skipped with a warning. Instantiating creates a draft workflow whose definition records the
blueprint's id and version (`_blueprintId`, `_blueprintVersion`): that is the lineage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from ...db import Database
from ...errors import Forbidden, Invalid, NotFound
from ...store import workflows as workflow_store
from ..net import RefusedURL, check_fetch_url, read_capped
from .blueprint_schema import (
    MAX_YAML_BYTES,
    Blueprint,
    as_text,
    condition_met,
    parse_blueprint,
    render,
    resolve_values,
)

log = logging.getLogger("stagent.blueprints")

FETCH_TIMEOUT = 15.0  # seconds for the whole download, redirects included
MAX_REDIRECTS = 5
WORKFLOW_NAME_MAX = 100


class BlueprintRegistry:
    def __init__(self, user_dir: Path):
        self.user_dir = user_dir
        self._builtins: dict[str, Blueprint] | None = None
        self._files: dict[Path, tuple[tuple[int, int], Blueprint | None]] = {}  # path -> (mtime, size), parsed
        self._lock = asyncio.Lock()  # create/delete: check-then-write without a race

    # ---- reading ---------------------------------------------------------------------------

    def builtins(self) -> dict[str, Blueprint]:
        if self._builtins is None:
            found = {}
            folder = resources.files("stagent") / "blueprints"
            for entry in sorted(folder.iterdir(), key=lambda e: e.name):
                if entry.name.endswith(".yaml"):
                    blueprint = parse_blueprint(entry.read_text(encoding="utf-8"))  # ours: must be valid
                    found[blueprint.id] = blueprint
            self._builtins = found
        return self._builtins

    def _user_files(self) -> dict[str, tuple[Path, Blueprint]]:
        """User blueprints by id, with their file; a file is parsed again only when it changed."""
        found: dict[str, tuple[Path, Blueprint]] = {}
        seen: set[Path] = set()
        try:
            entries = sorted(p for p in self.user_dir.iterdir() if p.suffix == ".yaml" and p.is_file())
        except FileNotFoundError:
            entries = []
        for path in entries:
            seen.add(path)
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (stat.st_mtime_ns, stat.st_size)
            cached = self._files.get(path)
            if cached is None or cached[0] != key:
                cached = (key, self._read_user_file(path))
                self._files[path] = cached
            blueprint = cached[1]
            if blueprint is None:
                continue
            if blueprint.id in found:
                log.warning("blueprint %s: id %r is also in %s; this file is ignored", path, blueprint.id,
                            found[blueprint.id][0].name)
                continue
            found[blueprint.id] = (path, blueprint)
        for gone in set(self._files) - seen:
            del self._files[gone]
        return found

    @staticmethod
    def _read_user_file(path: Path) -> Blueprint | None:
        try:
            return parse_blueprint(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, Invalid) as exc:
            log.warning("blueprint %s skipped: %s", path, getattr(exc, "message", exc))
            return None

    def all(self) -> list[tuple[Blueprint, bool]]:
        """Every blueprint with whether it is a built-in; user files override built-ins."""
        merged = {bid: (bp, True) for bid, bp in self.builtins().items()}
        merged.update({bid: (bp, False) for bid, (_, bp) in self._user_files().items()})
        return sorted(merged.values(), key=lambda item: (item[0].name.lower(), item[0].id))

    def get(self, blueprint_id: str) -> tuple[Blueprint, bool]:
        user = self._user_files().get(blueprint_id)
        if user is not None:
            return user[1], False
        builtin = self.builtins().get(blueprint_id)
        if builtin is None:
            raise NotFound("Blueprint not found")
        return builtin, True

    # ---- writing ---------------------------------------------------------------------------

    async def create(self, text: str) -> Blueprint:
        """Validate and save as `<id>.yaml` (the text as given, comments and all)."""
        blueprint = await asyncio.to_thread(parse_blueprint, text)  # up to 256 KB: not on the loop
        async with self._lock:
            if blueprint.id in self.builtins() or blueprint.id in self._user_files():
                raise Invalid(f'Blueprint "{blueprint.id}" already exists')
            await asyncio.to_thread(self._write_new, blueprint.id, text)
        return blueprint

    def _write_new(self, blueprint_id: str, text: str) -> None:
        """Called under self._lock. Never over an existing file (one dropped in by hand that does
        not validate is still the user's)."""
        self.user_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.user_dir / f"{blueprint_id}.yaml"  # the id is a slug: no path can escape
        temp = self.user_dir / f".{blueprint_id}.{os.getpid()}.tmp"
        temp.write_text(text, encoding="utf-8")
        try:
            os.link(temp, final)  # complete file or none
        except FileExistsError:
            raise self._file_in_the_way(blueprint_id, final) from None
        except OSError:  # no hard links here (exFAT, some network mounts)
            self._write_exclusive(blueprint_id, final, text)
        finally:
            temp.unlink(missing_ok=True)

    def _write_exclusive(self, blueprint_id: str, final: Path, text: str) -> None:
        try:
            fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise self._file_in_the_way(blueprint_id, final) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
        except BaseException:
            final.unlink(missing_ok=True)  # a partial file would be read as a broken blueprint
            raise

    @staticmethod
    def _file_in_the_way(blueprint_id: str, final: Path) -> Invalid:
        return Invalid(f'Blueprint "{blueprint_id}" already exists '
                       f"(the file {final.name} is there but does not define it)")

    async def delete(self, blueprint_id: str) -> None:
        async with self._lock:
            user = self._user_files().get(blueprint_id)
            if user is None:
                if blueprint_id in self.builtins():
                    raise Forbidden("Cannot delete built-in blueprint")
                raise Invalid(f'Blueprint "{blueprint_id}" not found')
            with contextlib.suppress(FileNotFoundError):
                user[0].unlink()


# ---- instantiate ---------------------------------------------------------------------------

def _workflow_name(blueprint: Blueprint, values: dict) -> str:
    first = blueprint.variables[0].id if blueprint.variables else None
    label = " ".join(as_text(values.get(first)).split()) if first else ""
    return (f"{blueprint.name}: {label}" if label else blueprint.name)[:WORKFLOW_NAME_MAX].strip()


def build_definition(blueprint: Blueprint, values: dict) -> tuple[dict, list[str]]:
    """The workflow definition and the names of the steps their condition skipped."""
    steps, skipped = [], []
    for number, step in enumerate(blueprint.steps, 1):
        if not condition_met(step.condition, values):
            skipped.append(step.name)
            continue
        prompt = render(step.prompt_template, values)
        if step.expected_output:
            prompt += f"\n\nExpected output: {render(step.expected_output, values)}"
        steps.append({"id": f"step-{number}", "name": step.name, "prompt": prompt,
                      "agentProfile": step.profile_id, "requiresApproval": step.requires_approval})
    if not steps:
        raise Invalid("Every step was skipped by its condition with these variables; nothing to create")
    definition = {"pattern": blueprint.pattern, "steps": steps, "triggers": [],
                  "_blueprintId": blueprint.id, "_blueprintVersion": blueprint.version}
    return definition, skipped


async def instantiate(db: Database, blueprint: Blueprint, variables: dict, project_id: str | None) -> dict:
    values = resolve_values(blueprint, variables)
    definition, skipped = build_definition(blueprint, values)
    workflow = await workflow_store.create_workflow(db, name=_workflow_name(blueprint, values),
                                                    definition=definition, project_id=project_id)
    return {"workflow": workflow, "stepsCount": len(definition["steps"]), "skippedSteps": skipped}


# ---- import --------------------------------------------------------------------------------

def raw_url(url: str) -> str:
    """The URL to download: github.com blob/tree links become raw.githubusercontent.com ones."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http(s) URL, e.g. https://github.com/<owner>/<repo>/blob/<branch>/<file>.yaml")
    if parts.hostname in ("github.com", "www.github.com"):
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 5 or segments[2] not in ("blob", "tree", "raw"):
            raise Invalid("A github.com url must point at a file: "
                          "https://github.com/<owner>/<repo>/blob/<branch>/<path>.yaml")
        owner, repo, _, *rest = segments
        return f"https://raw.githubusercontent.com/{owner}/{repo}/{'/'.join(rest)}"
    return url


async def fetch_yaml(url: str) -> str:
    """GET the URL (the user asked for it): redirects only to http(s), at most MAX_YAML_BYTES
    once decoded, within FETCH_TIMEOUT overall; the URL and every redirect's target pass
    check_fetch_url (no link-local or metadata address) before anything connects to them."""
    import httpx  # only here: the daemon starts without it (tests/test_startup.py)

    target = raw_url(url)

    def failed(reason: str) -> Invalid:
        return Invalid(f"Could not fetch {url}: {reason}")

    # identity: a compressed answer could decode to far more than the cap in one chunk.
    headers = {"Accept": "text/yaml, text/plain, */*", "Accept-Encoding": "identity"}
    redirected = False
    try:
        async with asyncio.timeout(FETCH_TIMEOUT), httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await check_fetch_url(str(target))
                async with client.stream("GET", target, headers=headers) as response:
                    if response.next_request is not None:  # a redirect (not followed by httpx)
                        target, redirected = response.next_request.url, True
                        if target.scheme not in ("http", "https"):
                            raise failed(f"redirected to a URL that is not http(s): {target}")
                        continue
                    if response.status_code != 200:
                        raise failed(f"HTTP {response.status_code}")
                    body = await read_capped(response, MAX_YAML_BYTES, failed)
                    break
            else:
                raise failed(f"more than {MAX_REDIRECTS} redirects")
    except RefusedURL as exc:
        raise failed(f"redirected to {target}: {exc}" if redirected else str(exc)) from None
    except TimeoutError:
        raise failed(f"no complete answer within {FETCH_TIMEOUT:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: e.g. a host IDNA refuses
        raise failed(str(exc) or type(exc).__name__) from None
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise failed("the file is not UTF-8 text") from None

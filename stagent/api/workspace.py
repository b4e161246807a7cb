"""/api/workspace: the daemon's launch context, project discovery on disk, bulk import (SSE)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import Field
from starlette.routing import Route

from ..engine.workspace.context import context
from ..engine.workspace.discover import discover
from ..errors import ApiError, Invalid
from ..store import projects as project_store
from ..store import workspace as store
from ._http import Body, Int, Out, endpoint, ok, read_body
from ._sse import json_frame, sse_response


class DiscoverBody(Body):
    parent_dir: str = Field(min_length=1, max_length=4096)
    max_depth: Int = Field(default=2, ge=1, le=3)
    # `claude` / `codex` / `git`, or a file or folder name (package.json, Cargo.toml, go.mod)
    markers: list[str] | None = Field(default=None, max_length=20)


class ImportItem(Body):
    path: str = Field(min_length=1, max_length=4096)
    name: str = Field(min_length=1, max_length=100)


class ImportBody(Body):
    projects: list[ImportItem] = Field(min_length=1, max_length=500)


class ContextOut(Out):
    cwd: str
    folderName: str
    parentPath: str
    gitBranch: str | None
    isWorktree: bool
    platform: str
    arch: str
    homedir: str


class DiscoverOut(Out):
    projects: list[dict]
    searchPath: str
    depth: int
    durationMs: int
    errors: list[str]


@endpoint(response=ContextOut)
async def get_context(request):
    """Where the daemon was launched: folder, git branch, platform."""
    return ok(await asyncio.to_thread(context), headers={"Cache-Control": "private, max-age=60"})


def _parent(raw: str) -> Path:
    if "\0" in raw:
        raise Invalid("Validation failed", field_errors={"parentDir": ["must not contain NUL"]}, form_errors=[])
    path = Path(os.path.expanduser(raw.strip()))
    if not path.is_absolute() or not path.is_dir():
        raise Invalid(f"Directory not found: {raw}")
    return path


@endpoint(body=DiscoverBody, response=DiscoverOut, errors=(400,))
async def discover_projects(request):
    """Project folders under parentDir (depth 1-3) by markers, with git branch and contents."""
    body = await read_body(request, DiscoverBody)
    markers = tuple(m.strip() for m in body.markers or () if m.strip() and "/" not in m and m.strip() not in (".", ".."))
    parent = _parent(body.parent_dir)
    imported = set(await store.project_folders(request.app.state.db))
    return ok(await asyncio.to_thread(discover, parent, body.max_depth, markers or None, imported))


@endpoint(body=ImportBody, errors=(400,), content_type="text/event-stream")
async def import_projects(request):
    """Create a project per folder; progress per folder as SSE, then `complete`."""
    body = await read_body(request, ImportBody)
    db = request.app.state.db

    async def frames():
        created = failed = 0
        n = 0
        for index, item in enumerate(body.projects):
            name = item.name.strip() or Path(item.path).name
            n += 1
            yield json_frame({"type": "progress", "index": index, "name": name, "status": "creating"}, id=n)
            event = {"type": "progress", "index": index, "name": name}
            try:
                folders = await store.project_folders(db)
                path = project_store.check_working_directory(item.path)
                if path in folders:
                    raise Invalid(f"Already imported as project \"{folders[path]}\"")
                project = await project_store.create_project(db, {"name": name, "working_directory": path,
                                                                  "description": f"Imported from {path}"})
                event.update(status="done", projectId=project["id"], artifactCount=0)
                created += 1
            except ApiError as exc:
                event.update(status="failed", error=exc.message)
                failed += 1
            n += 1
            yield json_frame(event, id=n)
        yield json_frame({"type": "complete", "created": created, "failed": failed}, id=n + 1)

    return sse_response(request.app, frames())


routes = [
    Route("/api/workspace/context", get_context, methods=["GET"]),
    Route("/api/workspace/discover", discover_projects, methods=["POST"]),
    Route("/api/workspace/import", import_projects, methods=["POST"]),
]

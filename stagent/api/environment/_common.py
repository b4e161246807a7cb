"""What the environment handlers share: the project a request names and the latest scan."""

from __future__ import annotations

from pathlib import Path

from ...engine.environment import service
from ...errors import ApiError, Invalid
from ...store import environment as store
from ...store import projects as project_store


def db(request):
    return request.app.state.db


async def project_dir(request, raw: str | None, project_id: str | None) -> Path:
    """projectDir, else the project's working directory, else the daemon's launch directory."""
    if project_id:
        try:
            project = await project_store.get_project(db(request), project_id)
        except ApiError:
            raise Invalid(f"projectId: project {project_id} not found") from None
        raw = raw or project.get("workingDirectory")
    return service.project_path(raw)


async def scan_or_latest(request, scan_id: str | None) -> dict | None:
    """The named scan (400 when unknown), else the latest one, else None."""
    if scan_id:
        scan = await store.get_scan(db(request), scan_id)
        if scan is None:
            raise Invalid(f"scanId: scan {scan_id} not found")
        return scan
    return await store.latest_scan(db(request))

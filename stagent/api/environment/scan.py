"""Scans and their artifacts: POST/GET /api/environment/scan, GET artifacts (and one)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ...engine.environment import service
from ...engine.environment.scanner import CATEGORIES, SCOPES, TOOLS
from ...errors import NotFound
from ...store import environment as store
from .._http import Body, Out, endpoint, ok, read_body, read_query
from ._common import db, project_dir, scan_or_latest


class ScanBody(Body):
    project_dir: str | None = Field(default=None, max_length=4096)
    project_id: str | None = Field(default=None, max_length=100)


class ScanQuery(Body):
    project_id: str | None = Field(default=None, max_length=100)
    scan_id: str | None = Field(default=None, max_length=100)
    project_dir: str | None = Field(default=None, max_length=4096)


class ArtifactQuery(Body):
    scan_id: str | None = Field(default=None, max_length=100)
    category: Literal[CATEGORIES] | None = None
    tool: Literal[TOOLS] | None = None
    scope: Literal[SCOPES] | None = None
    search: str | None = Field(default=None, max_length=200)


class ScanOut(Out):
    scan: dict | None
    summary: dict | None = None


class ArtifactsOut(Out):
    artifacts: list[dict]
    count: int | None = None


@endpoint(body=ScanBody, response=ScanOut, errors=(400,))
async def run_scan(request):
    """Scan ~/.claude, ~/.codex and the project directory now; the summary carries the health score."""
    body = await read_body(request, ScanBody)
    folder = await project_dir(request, body.project_dir, body.project_id)
    scan = await service.run_scan(db(request), folder, body.project_id or None)
    return ok({"scan": scan, "summary": await service.summary(db(request), scan)})


@endpoint(query=ScanQuery, response=ScanOut, errors=(400,))
async def get_scan(request):
    """The given or latest scan; a stale one (over 5 minutes) is re-scanned in the background."""
    query = read_query(request, ScanQuery)
    if query.scan_id:
        scan = await scan_or_latest(request, query.scan_id)
    else:
        path = str(service.project_path(query.project_dir)) if query.project_dir else None
        scan = await store.latest_scan(db(request), query.project_id, path)
    if scan is None:
        return ok({"scan": None, "message": "No scan found"})
    refreshing = service.rescan_if_stale(db(request), request.app.state.supervisor, scan)
    return ok({"scan": scan, "summary": await service.summary(db(request), scan), "refreshing": refreshing})


@endpoint(query=ArtifactQuery, response=ArtifactsOut, errors=(400,))
async def list_artifacts(request):
    """Artifacts of the given or latest scan, filtered by category, tool, scope and a search."""
    query = read_query(request, ArtifactQuery)
    scan = await scan_or_latest(request, query.scan_id)
    if scan is None:
        return ok({"artifacts": [], "message": "No scan found. Run a scan first."})
    artifacts = await store.list_artifacts(db(request), scan["id"], query.category, query.tool, query.scope,
                                           (query.search or "").strip() or None)
    return ok({"artifacts": artifacts, "count": len(artifacts), "scanId": scan["id"]})


@endpoint(response=dict, errors=(404,))
async def get_artifact(request):
    """One artifact, its preview and metadata masked."""
    artifact = await store.get_artifact(db(request), request.path_params["id"])
    if artifact is None:
        raise NotFound("Artifact not found")
    return ok({"artifact": artifact})


routes = [
    Route("/api/environment/scan", run_scan, methods=["POST"]),
    Route("/api/environment/scan", get_scan, methods=["GET"]),
    Route("/api/environment/artifacts", list_artifacts, methods=["GET"]),
    Route("/api/environment/artifacts/{id}", get_artifact, methods=["GET"]),
]

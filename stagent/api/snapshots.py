"""/api/snapshots: whole-instance backups (engine/snapshots), 7 endpoints."""

from __future__ import annotations

from starlette.routing import Route

from ..engine.snapshots.auto import get_settings, validate
from ..store import settings as settings_store
from ._http import Body, Out, endpoint, ok, read_body


class SnapshotCreate(Body):
    label: str | None = None


class SnapshotSettingsUpdate(Body):
    """Partial; numbers and booleans may come as strings (they are stored as strings)."""

    enabled: bool | str | None = None
    interval: str | None = None
    max_count: int | str | None = None
    max_age_weeks: int | str | None = None


class SnapshotOut(Out):
    id: str
    label: str
    type: str
    status: str
    filePath: str | None
    sizeBytes: int
    dbSizeBytes: int
    filesSizeBytes: int
    fileCount: int
    error: str | None
    createdAt: str
    verified: bool


class SnapshotList(Out):
    snapshots: list[SnapshotOut]
    totalBytes: int
    snapshotCount: int


class RestoreOut(Out):
    success: bool
    requiresRestart: bool
    preRestoreSnapshotId: str
    message: str


class SnapshotSettingsOut(Out):
    enabled: str
    interval: str
    maxCount: str
    maxAgeWeeks: str


def _snapshots(request):
    return request.app.state.snapshots


@endpoint(response=SnapshotList)
async def list_snapshots(request):
    """Every snapshot, newest first, with the disk they use."""
    return ok(await _snapshots(request).list())


@endpoint(body=SnapshotCreate, response=SnapshotOut, status=201, errors=(400, 409, 500))
async def create_snapshot(request):
    """A manual snapshot: database backup + data files archive, verified (409 while another runs;
    500 `{error, snapshot}` when it failed, the failed snapshot still listed)."""
    body = await read_body(request, SnapshotCreate)
    label = (body.label or "").strip()[:200] or None
    return ok(await _snapshots(request).create(label), 201)


@endpoint(response=SnapshotOut, errors=(404,))
async def get_snapshot(request):
    """One snapshot."""
    return ok(await _snapshots(request).get(request.path_params["id"]))


@endpoint(errors=(404, 409))
async def delete_snapshot(request):
    """Delete a snapshot's record and files."""
    await _snapshots(request).delete(request.path_params["id"])
    return ok({"success": True})


@endpoint(response=RestoreOut, errors=(404, 409))
async def restore_snapshot(request):
    """Replace all data with the snapshot's (a pre-restore snapshot is taken first); live, no restart."""
    return ok(await _snapshots(request).restore(request.path_params["id"]))


@endpoint(response=SnapshotSettingsOut)
async def get_snapshot_settings(request):
    """Auto-backup and retention settings (strings)."""
    return ok(await get_settings(_snapshots(request)))


@endpoint(body=SnapshotSettingsUpdate, errors=(400,))
async def update_snapshot_settings(request):
    """Partial update of the auto-backup and retention settings."""
    body = await read_body(request, SnapshotSettingsUpdate)
    changes = validate(body.model_dump(by_alias=True, exclude_unset=True))
    if changes:
        await settings_store.set_many(request.app.state.db, changes)
        _snapshots(request).auto_settings_changed = True
        request.app.state.scheduler.wake()
    return ok({"success": True})


routes = [
    Route("/api/snapshots", list_snapshots, methods=["GET"]),
    Route("/api/snapshots", create_snapshot, methods=["POST"]),
    Route("/api/snapshots/settings", get_snapshot_settings, methods=["GET"]),
    Route("/api/snapshots/settings", update_snapshot_settings, methods=["PUT"]),
    Route("/api/snapshots/{id}", get_snapshot, methods=["GET"]),
    Route("/api/snapshots/{id}", delete_snapshot, methods=["DELETE"]),
    Route("/api/snapshots/{id}/restore", restore_snapshot, methods=["POST"]),
]

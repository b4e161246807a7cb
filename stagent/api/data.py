"""/api/data: replace everything with sample data, or clear all user data (2 endpoints).

Both keep settings, API keys, channels, profiles and snapshots, take a snapshot first and are
refused (409, with the running tasks) while tasks run."""

from __future__ import annotations

import logging

from starlette.routing import Route

from ..engine.data.ops import DataOps
from ..errors import ApiError
from ._http import Out, endpoint, ok

log = logging.getLogger("stagent.data")


class SeedOut(Out):
    success: bool
    seeded: dict[str, int]
    snapshotId: str


class ClearOut(Out):
    success: bool
    deleted: dict[str, int]
    snapshotId: str


def _ops(request) -> DataOps:
    state = request.app.state
    return DataOps(state.db, state.config.data_dir, state.snapshots)


async def _run(operation):
    try:
        return ok(await operation())
    except ApiError as exc:
        if exc.status < 500:
            raise
        return ok({"success": False, "error": exc.message}, 500)
    except Exception as exc:  # noqa: BLE001 - the documented {success:false} envelope
        log.exception("data operation failed")
        return ok({"success": False, "error": str(exc) or type(exc).__name__}, 500)


@endpoint(response=SeedOut, errors=(409,))
async def seed_data(request):
    """Replace all user data with a realistic demo (a snapshot is taken first)."""
    return await _run(_ops(request).seed)


@endpoint(response=ClearOut, errors=(409,))
async def clear_data(request):
    """Delete all user data in foreign-key order (a snapshot is taken first)."""
    return await _run(_ops(request).clear)


routes = [
    Route("/api/data/seed", seed_data, methods=["POST"]),
    Route("/api/data/clear", clear_data, methods=["POST"]),
]

"""Sync between Claude Code and Codex: preview, apply (after a pre-sync checkpoint), history."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ...engine.environment import service
from ...store import environment as store
from .._http import Body, Int, Out, endpoint, ok, read_body, read_query
from ._common import db


class Operation(Body):
    artifact_id: str = Field(min_length=1, max_length=100)
    operation: Literal["create", "update", "delete", "sync"]
    target_tool: Literal["claude-code", "codex"]
    target_path: str | None = Field(default=None, max_length=4096)
    # the preview's syncOp.targetHash ("" for a file that did not exist): a changed target is a conflict
    target_hash: str | None = Field(default=None, max_length=64)


class PreviewBody(Body):
    operations: list[Operation] = Field(min_length=1, max_length=100)


class SyncBody(PreviewBody):
    label: str | None = Field(default=None, max_length=200)


class HistoryQuery(Body):
    project_id: str | None = Field(default=None, max_length=100)
    limit: Int = Field(default=20, ge=1, le=200)


class PreviewOut(Out):
    previews: list[dict]
    summary: dict


class SyncOut(Out):
    checkpointId: str
    operations: list[dict]
    summary: dict


def _requests(body: PreviewBody) -> list[dict]:
    return [op.model_dump() for op in body.operations]


@endpoint(body=PreviewBody, response=PreviewOut, errors=(400,))
async def preview_sync(request):
    """Dry run: the diff each operation would make (secrets masked) and whether it conflicts."""
    body = await read_body(request, PreviewBody)
    return ok(await service.preview(db(request), _requests(body)))


@endpoint(body=SyncBody, response=SyncOut, errors=(400,))
async def apply_sync(request):
    """Checkpoint, then write each operation's target file; a target changed since its preview is not written."""
    body = await read_body(request, SyncBody)
    label = (body.label or "").strip() or None
    return ok(await service.apply(db(request), request.app.state.config.data_dir, _requests(body), label))


@endpoint(query=HistoryQuery, response=dict, errors=(400,))
async def sync_history(request):
    """Past syncs, newest first: each pre-sync checkpoint with its operations."""
    query = read_query(request, HistoryQuery)
    checkpoints = await store.list_checkpoints(db(request), query.project_id, "pre-sync", query.limit)
    ops = await store.sync_ops(db(request), [c["id"] for c in checkpoints])
    history = [{"checkpoint": c, "operations": ops[c["id"]]} for c in checkpoints]
    return ok({"history": history, "count": len(history)})


routes = [
    Route("/api/environment/sync/preview", preview_sync, methods=["POST"]),
    Route("/api/environment/sync/history", sync_history, methods=["GET"]),
    Route("/api/environment/sync", apply_sync, methods=["POST"]),
]

"""Checkpoints: list, create, detail (with its sync operations and the project's diff since
its tag), and roll back (POST on the checkpoint)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ...engine.environment import checkpoints as engine
from ...engine.environment.scanner import home_dir
from ...errors import NotFound
from ...store import environment as store
from .._http import Body, Out, endpoint, ok, read_body, read_query
from ._common import db, project_dir


class ListQuery(Body):
    project_id: str | None = Field(default=None, max_length=100)


class CheckpointBody(Body):
    label: str | None = Field(default=None, max_length=200)
    checkpoint_type: Literal["pre-sync", "manual", "pre-onboard"] = "manual"
    project_dir: str | None = Field(default=None, max_length=4096)
    project_id: str | None = Field(default=None, max_length=100)
    global_paths: list[str] | None = Field(default=None, max_length=100)


class CheckpointOut(Out):
    checkpoint: dict


class RollbackOut(Out):
    message: str
    results: dict


async def _checkpoint(request) -> dict:
    checkpoint = await store.get_checkpoint(db(request), request.path_params["id"])
    if checkpoint is None:
        raise NotFound("Checkpoint not found")
    return checkpoint


@endpoint(query=ListQuery, response=dict, errors=(400,))
async def list_checkpoints(request):
    """Checkpoints, newest first."""
    query = read_query(request, ListQuery)
    return ok({"checkpoints": await store.list_checkpoints(db(request), query.project_id)})


@endpoint(body=CheckpointBody, response=CheckpointOut, errors=(400,))
async def create_checkpoint(request):
    """Tag the project (a clean git repository) and copy the named config files; 200, as the original."""
    body = await read_body(request, CheckpointBody)
    folder = await project_dir(request, body.project_dir, body.project_id)
    paths = engine.global_paths(home_dir(), body.global_paths)
    label = (body.label or "").strip() or f"{body.checkpoint_type.capitalize()} checkpoint"
    checkpoint = await engine.create(db(request), request.app.state.config.data_dir, label=label,
                                     checkpoint_type=body.checkpoint_type, paths=paths, project_dir=folder,
                                     project_id=body.project_id or None)
    return ok({"checkpoint": checkpoint})


@endpoint(response=dict, errors=(404,))
async def get_checkpoint(request):
    """A checkpoint, its sync operations and the project's diff since its tag (or null)."""
    checkpoint = await _checkpoint(request)
    ops = (await store.sync_ops(db(request), [checkpoint["id"]]))[checkpoint["id"]]
    return ok({"checkpoint": checkpoint, "syncOps": ops, "diff": await engine.diff(checkpoint)})


@endpoint(response=RollbackOut, errors=(400, 404, 500))
async def rollback_checkpoint(request):
    """Restore the checkpoint's file copies byte for byte and the project's files from its tag."""
    checkpoint = await _checkpoint(request)
    results = await engine.rollback(db(request), checkpoint)
    return ok({"message": f"Rolled back to checkpoint \"{checkpoint['label']}\"", "results": results})


routes = [
    Route("/api/environment/checkpoints", list_checkpoints, methods=["GET"]),
    Route("/api/environment/checkpoints", create_checkpoint, methods=["POST"]),
    Route("/api/environment/checkpoints/{id}", get_checkpoint, methods=["GET"]),
    Route("/api/environment/checkpoints/{id}", rollback_checkpoint, methods=["POST"]),
]

"""/api/tasks/{id}/changes: the file changes a task's runs made, and undoing them (extension,
docs/decisions/018-file-tools.md)."""

from __future__ import annotations

from starlette.routing import Route

from ..engine.agent import changes as changes_engine
from ..errors import Conflict
from ..store import file_changes as store
from ..store import tasks as task_store
from ._http import Out, endpoint, ok


class ChangeOut(Out):
    id: str
    path: str
    beforeHash: str | None
    afterHash: str
    diff: str
    createdAt: str
    revertedAt: str | None


class ChangesOut(Out):
    changes: list[ChangeOut]


class SkippedOut(Out):
    path: str
    reason: str


class RevertOut(Out):
    reverted: list[str]
    skipped: list[SkippedOut]


@endpoint(response=ChangesOut, errors=(404,))
async def list_task_changes(request):
    """Every write_file/edit_file of the task's runs, oldest first, with its unified diff."""
    db = request.app.state.db
    task = await task_store.get_task_row(db, request.path_params["id"])
    return ok({"changes": await store.list_changes(db, task["id"])})


@endpoint(response=RevertOut, errors=(404, 409))
async def revert_task_changes(request):
    """Put back each changed file that is still as the run left it (files the run created are
    deleted); the others are reported under `skipped`. 409 while the task runs."""
    db = request.app.state.db
    task = await task_store.get_task_row(db, request.path_params["id"])
    if task["status"] == "running":
        raise Conflict("The task is running; cancel it or let it finish before reverting its changes")
    return ok(await changes_engine.revert(db, task["id"]))


routes = [
    Route("/api/tasks/{id}/changes", list_task_changes, methods=["GET"]),
    Route("/api/tasks/{id}/changes/revert", revert_task_changes, methods=["POST"]),
]

"""/api/workflows/{id}: start a run, read its live state, retry a failed step, cancel, and
answer the run's checkpoint (docs/decisions/013-workflows.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...db.rows import loads
from ...errors import NotFound
from ...store import notifications as notification_store
from ...store import workflow_runs as runs
from ...store import workflow_status as views
from .._http import Body, Out, endpoint, ok
from ._surface import db, engine, path_id, read, workflow


class RespondIn(Body):
    notification_id: str = Field(min_length=1)
    behavior: Literal["allow", "deny"]
    message: str | None = None
    updated_input: dict | None = None


class StartedOut(Out):
    status: Literal["started"]
    workflowId: str
    runNumber: int


class RetryOut(Out):
    status: Literal["retry_started"]
    workflowId: str
    stepId: str


class CancelOut(Out):
    id: str
    status: str
    runNumber: int
    runStatus: Literal["cancelled"]


class SuccessOut(Out):
    success: bool


@endpoint(response=StartedOut, status=202, errors=(400, 404, 409))
async def execute_workflow(request):
    """Start a run (fire-and-forget), or resume a paused one; 409 while it runs."""
    return ok(await engine(request).start(path_id(request)), 202)


@endpoint(response=dict, errors=(404,))
async def workflow_status(request):
    """Live state: each step's state (a loop: its iterations), the run history."""
    return ok(await db(request).read(lambda conn: views.status_in(conn, path_id(request))))


@endpoint(response=RetryOut, status=202, errors=(404, 409))
async def retry_step(request):
    """Run a failed step again and continue from it: 202 once it started. 404 for an unknown
    workflow or step; 409 when nothing can be retried (the workflow runs, has no run state, or
    the step did not fail), also written to the workflow's log (`retry_refused`)."""
    workflow_id, step_id = path_id(request), request.path_params["step_id"]
    await engine(request).retry_step(workflow_id, step_id)
    return ok({"status": "retry_started", "workflowId": workflow_id, "stepId": step_id}, 202)


@endpoint(response=CancelOut, errors=(404, 409))
async def cancel_workflow(request):
    """Stop every running step; the run ends as cancelled and the workflow as failed."""
    return ok(await engine(request).cancel(path_id(request)))


@endpoint(body=RespondIn, response=SuccessOut, errors=(400, 404, 409))
async def respond_checkpoint(request):
    """Answer the workflow's checkpoint: allow (optionally with `updatedInput.prompt`, the
    step's new prompt) or deny."""
    body = await read(request, RespondIn)
    workflow_id = path_id(request)
    await workflow(request, workflow_id)
    notification = await notification_store.get(db(request), body.notification_id)
    if notification is None or notification["toolName"] != runs.CHECKPOINT_TOOL:
        raise NotFound("Checkpoint request not found")
    tool_input = loads(notification["toolInput"], {})
    if not isinstance(tool_input, dict) or tool_input.get("workflowId") != workflow_id:
        raise NotFound("Checkpoint request not found")
    await request.app.state.permissions.respond(
        body.notification_id, behavior=body.behavior, message=body.message,
        updated_input=body.updated_input if body.behavior == "allow" else None)
    return ok({"success": True})

"""/api/tasks: 14 endpoints (assist included)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..engine.profiles.registry import ProfileRegistry
from ..engine.tasks import assist as assist_engine
from ..errors import Invalid, NotFound
from ..store import tasks as store
from ._http import Body, Int, Out, RuntimeId, endpoint, ok, read_body, read_query
from .logs import sse_log_stream

Status = Literal["planned", "queued", "running", "completed", "failed", "cancelled"]


class TaskCreate(Body):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    project_id: str | None = None
    priority: Int = Field(default=2, ge=0, le=3)
    assigned_agent: RuntimeId | None = None
    agent_profile: str | None = None
    model_id: str | None = Field(default=None, max_length=200)
    document_ids: list[str] | None = None
    file_ids: list[str] | None = None  # legacy alias of documentIds
    # extension: what one run may spend (default $2; workflow steps $5), docs/decisions/002
    max_budget_usd: float | None = Field(default=None, gt=0, le=store.MAX_BUDGET_USD)


class TaskUpdate(Body):
    # Zod `.optional()`: these may be left out but never sent as null (NOT NULL columns).
    title: str = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: Status = None
    priority: Int = Field(default=None, ge=0, le=3)
    assigned_agent: RuntimeId | None = None
    agent_profile: str | None = None
    model_id: str | None = Field(default=None, max_length=200)
    result: str | None = None
    session_id: str | None = None
    document_ids: list[str] | None = None
    project_id: str | None = None  # extension: move a task to another project (null: none)
    max_budget_usd: float | None = Field(default=None, gt=0, le=store.MAX_BUDGET_USD)  # null: the default


class TaskListQuery(Body):
    project_id: str | None = None
    status: Status | None = None


class AssistRequest(Body):
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    assigned_agent: RuntimeId | None = None


class TaskOut(Out):
    id: str
    projectId: str | None
    title: str
    description: str | None
    status: Status
    priority: int
    result: str | None
    maxBudgetUsd: float | None = None
    createdAt: str
    updatedAt: str


class MessageOut(Out):
    message: str


class SuccessOut(Out):
    success: bool


class OutputOut(Out):
    taskId: str
    status: str
    result: str | None
    contentType: Literal["text", "markdown", "code", "json", "unknown"]


def _db(request):
    return request.app.state.db


@endpoint(query=TaskListQuery, response=list[TaskOut], errors=(400,))
async def list_tasks(request):
    """List tasks, most urgent first, then newest."""
    status = request.query_params.get("status")
    if status is not None and status not in store.STATUSES:  # the documented `{error}`, not a flatten
        raise Invalid(f"Invalid status. Must be one of: {', '.join(store.STATUSES)}")
    query = read_query(request, TaskListQuery)
    return ok(await store.list_tasks(_db(request), query.project_id, query.status))


@endpoint(body=TaskCreate, response=TaskOut, status=201, errors=(400,))
async def create_task(request):
    """Create a task in `planned`."""
    body = await read_body(request, TaskCreate)
    fields = body.given()
    legacy = fields.pop("file_ids", None)
    if fields.get("document_ids") is None and legacy is not None:
        fields["document_ids"] = legacy
    await ProfileRegistry(_db(request)).check_reference(  # unknown or runtime-unfit: 400
        fields.get("agent_profile"), fields.get("assigned_agent"), fields.get("project_id"))
    return ok(await store.create_task(_db(request), fields), 201)


@endpoint(response=TaskOut, errors=(404,))
async def get_task(request):
    """One task with its project name and usage."""
    return ok(await store.get_task(_db(request), request.path_params["id"]))


@endpoint(body=TaskUpdate, response=TaskOut, errors=(400, 404))
async def update_task(request):
    """Update fields; a status change must follow the task status machine."""
    body = await read_body(request, TaskUpdate)
    fields = body.given()
    if fields.get("agent_profile") or fields.get("assigned_agent"):  # unknown or runtime-unfit: 400
        try:
            task = await store.get_task_row(_db(request), request.path_params["id"])
        except NotFound:
            raise NotFound() from None  # the route's own 404 body
        await ProfileRegistry(_db(request)).check_reference(
            fields.get("agent_profile", task["agentProfile"]), fields.get("assigned_agent", task["assignedAgent"]),
            fields.get("project_id", task["projectId"]))
    return ok(await request.app.state.runner.update(request.path_params["id"], fields))


@endpoint(response=SuccessOut, errors=(404,))
async def delete_task(request):
    """Delete a task with its logs, notifications and usage rows."""
    await request.app.state.runner.delete(request.path_params["id"])
    return ok({"success": True})


@endpoint(response=MessageOut, status=202, errors=(400, 404, 429))
async def execute_task(request):
    """Start the agent run of a queued task (fire-and-forget); 429 while a budget cap is reached."""
    await request.app.state.runner.execute(request.path_params["id"], check_budget=True)
    return ok({"message": "Execution started"}, 202)


@endpoint(response=MessageOut, status=202, errors=(400, 404, 429))
async def resume_task(request):
    """Resume a failed or cancelled task from its saved agent session; 429 while a budget cap is reached."""
    await request.app.state.runner.resume(request.path_params["id"], check_budget=True)
    return ok({"message": "Resume started"}, 202)


@endpoint(response=SuccessOut, errors=(404,))
async def cancel_task(request):
    """Cancel a task; a live run stops within a second."""
    await request.app.state.runner.cancel(request.path_params["id"])
    return ok({"success": True})


class RespondRequest(Body):
    notification_id: str
    behavior: Literal["allow", "deny"]
    message: str | None = None
    updated_input: dict | None = None
    always_allow: bool | None = None
    permission_pattern: str | None = None


@endpoint(body=RespondRequest, response=SuccessOut, errors=(400, 404, 409))
async def respond_task(request):
    """Answer a tool-permission request raised during a run."""
    required = "notificationId (string) and behavior ('allow' | 'deny') are required"
    body = await read_body(request, RespondRequest, not_object=required, invalid=required)
    await request.app.state.permissions.respond(
        body.notification_id, behavior=body.behavior, message=body.message, updated_input=body.updated_input,
        always_allow=bool(body.always_allow), permission_pattern=body.permission_pattern,
        task_id=request.path_params["id"])
    return ok({"success": True})


@endpoint(response=OutputOut, errors=(404,))
async def task_output(request):
    """The task's result with a sniffed content type."""
    try:
        task = await store.get_task_row(_db(request), request.path_params["id"])
    except NotFound:
        raise NotFound("Task not found") from None
    return ok({"taskId": task["id"], "status": task["status"], "result": task["result"],
               "contentType": store.content_type(task["result"])})


@endpoint(errors=(404,), content_type="text/event-stream")
async def task_logs(request):
    """Live agent log of one task (SSE); closes when the task ends."""
    task = await store.get_task_row(_db(request), request.path_params["id"])
    return sse_log_stream(request, task_id=task["id"], close_when_done=True)


@endpoint(errors=(404,))
async def task_provenance(request):
    """Audit trail: logs, approvals and costs on one timeline."""
    return ok(await store.provenance(_db(request), request.path_params["id"]))


@endpoint()
async def task_siblings(request):
    """Other tasks of the same workflow run."""
    return ok(await store.siblings(_db(request), request.path_params["id"]))


@endpoint(body=AssistRequest, errors=(400, 429))
async def assist_task(request):
    """AI help drafting a task: improved description, breakdown and a pattern; 429 when the model
    call would cross a budget cap (the check before every provider call)."""
    body = await read_body(request, AssistRequest)
    if not (body.title or "").strip() and not (body.description or "").strip():
        raise Invalid("Title or description is required")
    return ok(await assist_engine.assist(_db(request), request.app.state.budgets, body.title, body.description,
                                         body.assigned_agent))


routes = [
    Route("/api/tasks", list_tasks, methods=["GET"]),
    Route("/api/tasks", create_task, methods=["POST"]),
    Route("/api/tasks/assist", assist_task, methods=["POST"]),
    Route("/api/tasks/{id}", get_task, methods=["GET"]),
    Route("/api/tasks/{id}", update_task, methods=["PATCH"]),
    Route("/api/tasks/{id}", delete_task, methods=["DELETE"]),
    Route("/api/tasks/{id}/execute", execute_task, methods=["POST"]),
    Route("/api/tasks/{id}/resume", resume_task, methods=["POST"]),
    Route("/api/tasks/{id}/cancel", cancel_task, methods=["POST"]),
    Route("/api/tasks/{id}/respond", respond_task, methods=["POST"]),
    Route("/api/tasks/{id}/output", task_output, methods=["GET"]),
    Route("/api/tasks/{id}/logs", task_logs, methods=["GET"]),
    Route("/api/tasks/{id}/provenance", task_provenance, methods=["GET"]),
    Route("/api/tasks/{id}/siblings", task_siblings, methods=["GET"]),
]

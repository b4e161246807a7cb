"""/api/workflows: the catalog's 11 endpoints, plus GET one workflow, cancel, the checkpoint
answer and the progress stream (extensions, docs/decisions/013-workflows.md).

Errors are the original's plain `{"error": "<sentence>"}` (this domain never used the Zod
shape), malformed JSON included. A body is checked against the same models the OpenAPI
document shows; the pattern rules (store.workflows.validate_definition) then decide whether the
definition can run.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError
from starlette.routing import Route

from ..db.rows import loads
from ..errors import Conflict, Invalid, NotFound
from ..events import WorkflowDefinitionChanged
from ..store import notifications as notification_store
from ..store import workflow_runs as runs
from ..store import workflow_status as views
from ..store import workflows as store
from ._http import Body, Int, Out, RuntimeId, _reject_constant, endpoint, ok, read_json

Pattern = Literal["sequence", "planner-executor", "checkpoint", "loop", "parallel", "swarm"]


class StepIn(Body):
    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    prompt: str | None = None
    type: Literal["agent", "approval"] = "agent"              # Stan's node types
    requires_approval: bool = False
    depends_on: list[str] | None = None
    assigned_agent: RuntimeId | None = None
    agent_profile: str | None = Field(default=None, max_length=200)
    model_id: str | None = Field(default=None, max_length=200)
    document_ids: list[str] | None = None
    config: dict | None = None                                 # Stan's node config


class LoopConfigIn(Body):
    max_iterations: Int = Field(ge=1)
    time_budget_ms: float | None = Field(default=None, gt=0)
    assigned_agent: RuntimeId | None = None
    agent_profile: str | None = Field(default=None, max_length=200)
    completion_signals: list[Annotated[str, Field(min_length=1)]] | None = None


class SwarmConfigIn(Body):
    worker_concurrency_limit: Int | None = Field(default=None, ge=1, le=store.MAX_WORKERS)


class DefinitionIn(Body):
    pattern: Pattern
    steps: list[StepIn] = Field(min_length=1, max_length=store.MAX_STEPS)
    loop_config: LoopConfigIn | None = None
    swarm_config: SwarmConfigIn | None = None
    source_task_id: str | None = None
    triggers: list[dict] | None = Field(default=None, max_length=store.MAX_TRIGGERS)  # Stan's trigger nodes
    on_interrupt: Literal["retry", "fail"] = "retry"           # extension: the step a restart cut off
    checkpoint_timeout_seconds: float | None = Field(default=None, gt=0, le=store.MAX_CHECKPOINT_TIMEOUT)


Name = Annotated[str, Field(min_length=1, max_length=store.NAME_MAX)]


class WorkflowCreate(Body):
    name: Name
    definition: DefinitionIn | str
    project_id: str | None = None


class WorkflowUpdate(Body):
    name: Name = None
    definition: DefinitionIn | str = None
    status: str = None


class FromAssist(WorkflowCreate):
    priority: Int = Field(default=2, ge=0, le=3)
    assigned_agent: RuntimeId | None = None
    execute_immediately: bool = False


class DocumentsIn(Body):
    document_ids: list[str] = Field(min_length=1)
    step_id: str | None = None


class DocumentsOut(Body):
    document_ids: list[str] | None = None
    step_id: str | None = None


class RespondIn(Body):
    notification_id: str = Field(min_length=1)
    behavior: Literal["allow", "deny"]
    message: str | None = None
    updated_input: dict | None = None


class WorkflowOut(Out):
    id: str
    projectId: str | None
    name: str
    definition: str
    status: str
    runNumber: int
    createdAt: str
    updatedAt: str


class PausedOut(Out):
    id: str
    status: Literal["paused"]


class StartedOut(Out):
    status: Literal["started"]
    workflowId: str
    runNumber: int


class RetryOut(Out):
    status: Literal["retry_started"]
    workflowId: str
    stepId: str


class FromAssistOut(Out):
    workflow: WorkflowOut
    taskIds: list[str]
    parentTaskId: None
    status: Literal["created", "started"]


class CancelOut(Out):
    id: str
    status: str
    runNumber: int
    runStatus: Literal["cancelled"]


class DeletedOut(Out):
    deleted: bool


class AttachedOut(Out):
    attached: int
    workflowId: str
    stepId: str | None


class OkOut(Out):
    ok: bool


class SuccessOut(Out):
    success: bool


# ---- helpers ---------------------------------------------------------------------------------

def _db(request):
    return request.app.state.db


def _engine(request):
    return request.app.state.workflows


def _id(request) -> str:
    return request.path_params["id"]


def _checked(model: type[Body], data: Any, prefix: str = "") -> Body:
    """The body against its documented model; a mismatch is a plain 400 naming the field."""
    if not isinstance(data, dict):
        raise Invalid(f"{prefix or 'The body'} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
        raise Invalid(f"Invalid {where}: {first['msg']}" if where else first["msg"]) from None


def _definition(raw: Any) -> dict:
    """A definition as sent (an object or its JSON text): typed, then checked as runnable."""
    if raw is None:
        raise Invalid("Definition must include pattern and at least one step")
    if isinstance(raw, str):  # as strict as a body: NaN and Infinity are not JSON
        try:
            raw = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"definition is not valid JSON text: {exc}") from None
    definition = store.parse_definition(raw)
    if not definition.get("pattern") or not definition.get("steps"):
        raise Invalid("Definition must include pattern and at least one step")
    store.check_limits(definition)  # before anything that grows with the steps
    _checked(DefinitionIn, definition, "definition")
    return store.validate_definition({k: v for k, v in definition.items() if k not in store.RUN_STATE_KEYS})


def _name(data: dict) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Name is required")
    return name


async def _json(request, *, object_only: bool = False) -> Any:
    """The body's JSON; malformed JSON is a plain 400 here, as every error of this domain."""
    try:
        data = await read_json(request)
    except Invalid as exc:
        raise Invalid((exc.form_errors or [exc.message])[0]) from None
    if object_only and not isinstance(data, dict):
        raise Invalid("The body must be a JSON object")
    return data


async def _body(request, model: type[Body]) -> Body:
    return _checked(model, await _json(request))


async def _workflow(request, workflow_id: str) -> dict:
    return await _db(request).read(lambda conn: runs.raw_in(conn, workflow_id))


# ---- the catalog's endpoints -------------------------------------------------------------------

@endpoint(response=list[WorkflowOut])
async def list_workflows(request):
    """Workflows, newest first, with taskCount and outputDocCount."""
    return ok(await runs.list_with_counts(_db(request)))


@endpoint(body=WorkflowCreate, response=WorkflowOut, status=201, errors=(400,))
async def create_workflow(request):
    """Create a draft; the definition must be runnable (pattern rules)."""
    data = await _json(request, object_only=True)
    name = _name(data)
    definition = _definition(data.get("definition"))
    body = _checked(WorkflowCreate, data)
    created = await store.create_workflow(_db(request), name=name, definition=definition, project_id=body.project_id)
    request.app.state.events.publish(WorkflowDefinitionChanged(created["id"]))
    return ok(await _workflow(request, created["id"]), 201)


@endpoint(response=WorkflowOut, errors=(404,))
async def get_workflow(request):
    """One workflow (extension; the catalog reads it through /status)."""
    return ok(await _workflow(request, _id(request)))


@endpoint(body=WorkflowUpdate, response=WorkflowOut | PausedOut, errors=(400, 404, 409))
async def update_workflow(request):
    """Mode A: `name` and/or `definition` (draft, completed or failed; a finished workflow goes
    back to draft). Mode B: `{"status": "paused"}` pauses an active workflow."""
    data = await _json(request, object_only=True)
    workflow = await _workflow(request, _id(request))
    if "name" in data or "definition" in data:
        if workflow["status"] not in store.EDITABLE:
            raise Conflict("Cannot edit active or paused workflows")
        name = _name(data) if "name" in data else None
        definition = _definition(data["definition"]) if "definition" in data else None
        _checked(WorkflowUpdate, {k: v for k, v in data.items() if k != "definition"})
        try:
            await store.replace(_db(request), workflow["id"], name=name, definition=definition)
        except Conflict:
            raise Conflict("Cannot edit active or paused workflows") from None
        # Every edit, a rename too: a schedule trigger's schedule is named after the workflow.
        request.app.state.events.publish(WorkflowDefinitionChanged(workflow["id"]))
        return ok(await _workflow(request, workflow["id"]))
    status = data.get("status")
    if status is None:
        raise Invalid("status, name, or definition is required")
    if status == "paused":
        return ok(await _engine(request).pause(workflow["id"]))
    if status == "active":
        raise Invalid("Use POST /api/workflows/[id]/execute to resume a workflow")
    raise Invalid(f"Invalid status transition: {status}")


@endpoint(response=DeletedOut, errors=(404, 409))
async def delete_workflow(request):
    """Delete the workflow with its step tasks; 409 while it runs."""
    await _engine(request).delete(_id(request))
    return ok({"deleted": True})


@endpoint(response=StartedOut, status=202, errors=(400, 404, 409))
async def execute_workflow(request):
    """Start a run (fire-and-forget), or resume a paused one; 409 while it runs."""
    return ok(await _engine(request).start(_id(request)), 202)


@endpoint(response=dict, errors=(404,))
async def workflow_status(request):
    """Live state: each step's state (a loop: its iterations), the run history."""
    return ok(await _db(request).read(lambda conn: views.status_in(conn, _id(request))))


@endpoint(response=list[dict])
async def list_documents(request):
    """Document bindings of the workflow (of any of its steps too)."""
    return ok(await _db(request).read(lambda conn: runs.bindings_in(conn, _id(request))))


@endpoint(body=DocumentsIn, response=AttachedOut, status=201, errors=(400, 404))
async def attach_documents(request):
    """Bind documents to the workflow, or to one step; 404 names the documents that do not exist."""
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("documentIds"), list) or not data["documentIds"]:
        raise Invalid("documentIds must be a non-empty array")
    body = _checked(DocumentsIn, data)
    workflow = await _workflow(request, _id(request))
    if body.step_id is not None and body.step_id not in {
            s.get("id") for s in store.parse_stored(workflow["definition"])["steps"]}:
        raise Invalid(f"Unknown step '{body.step_id}'")
    ids = list(dict.fromkeys(body.document_ids))
    await _db(request).write(lambda conn: runs.attach_in(conn, workflow["id"], ids, body.step_id))
    return ok({"attached": len(ids), "workflowId": workflow["id"], "stepId": body.step_id}, 201)


@endpoint(body=DocumentsOut, response=OkOut, errors=(400,))
async def detach_documents(request):
    """Unbind the given documents (of one step, with stepId); an empty body unbinds all."""
    body = await _body(request, DocumentsOut)
    await _db(request).write(lambda conn: runs.detach_in(conn, _id(request), body.document_ids, body.step_id))
    return ok({"ok": True})


@endpoint(response=RetryOut, status=202, errors=(404,))
async def retry_step(request):
    """Run a failed step again and continue from it. Always 202, as the catalog: a retry that
    cannot happen is explained in `error` and in the workflow's log (`retry_refused`)."""
    workflow_id, step_id = _id(request), request.path_params["step_id"]
    refused = await _engine(request).retry_step(workflow_id, step_id)
    body = {"status": "retry_started", "workflowId": workflow_id, "stepId": step_id}
    return ok({**body, "error": refused} if refused else body, 202)


@endpoint(body=FromAssist, response=FromAssistOut, status=201, errors=(400,))
async def from_assist(request):
    """The workflow and one planned task per step, in one transaction; optionally started."""
    data = await _json(request, object_only=True)
    name = _name(data).strip()
    definition = _definition(data.get("definition"))
    body = _checked(FromAssist, data)
    workflow, task_ids = await _db(request).write(lambda conn: runs.create_with_tasks_in(
        conn, name=name[:store.NAME_MAX], definition=definition, project_id=body.project_id,
        priority=body.priority, assigned_agent=body.assigned_agent))
    request.app.state.events.publish(WorkflowDefinitionChanged(workflow["id"]))
    if body.execute_immediately:
        await _engine(request).start(workflow["id"], trigger="assist")
    return ok({"workflow": await _workflow(request, workflow["id"]), "taskIds": task_ids, "parentTaskId": None,
               "status": "started" if body.execute_immediately else "created"}, 201)


# ---- extensions ------------------------------------------------------------------------------

@endpoint(response=CancelOut, errors=(404, 409))
async def cancel_workflow(request):
    """Stop every running step; the run ends as cancelled and the workflow as failed."""
    return ok(await _engine(request).cancel(_id(request)))


@endpoint(body=RespondIn, response=SuccessOut, errors=(400, 404, 409))
async def respond_checkpoint(request):
    """Answer the workflow's checkpoint: allow (optionally with `updatedInput.prompt`, the
    step's new prompt) or deny."""
    body = await _body(request, RespondIn)
    workflow_id = _id(request)
    await _workflow(request, workflow_id)
    notification = await notification_store.get(_db(request), body.notification_id)
    if notification is None or notification["toolName"] != runs.CHECKPOINT_TOOL:
        raise NotFound("Checkpoint request not found")
    tool_input = loads(notification["toolInput"], {})
    if not isinstance(tool_input, dict) or tool_input.get("workflowId") != workflow_id:
        raise NotFound("Checkpoint request not found")
    await request.app.state.permissions.respond(
        body.notification_id, behavior=body.behavior, message=body.message,
        updated_input=body.updated_input if body.behavior == "allow" else None)
    return ok({"success": True})


routes = [
    Route("/api/workflows", list_workflows, methods=["GET"]),
    Route("/api/workflows", create_workflow, methods=["POST"]),
    Route("/api/workflows/from-assist", from_assist, methods=["POST"]),
    Route("/api/workflows/{id}", get_workflow, methods=["GET"]),
    Route("/api/workflows/{id}", update_workflow, methods=["PATCH"]),
    Route("/api/workflows/{id}", delete_workflow, methods=["DELETE"]),
    Route("/api/workflows/{id}/execute", execute_workflow, methods=["POST"]),
    Route("/api/workflows/{id}/status", workflow_status, methods=["GET"]),
    Route("/api/workflows/{id}/documents", list_documents, methods=["GET"]),
    Route("/api/workflows/{id}/documents", attach_documents, methods=["POST"]),
    Route("/api/workflows/{id}/documents", detach_documents, methods=["DELETE"]),
    Route("/api/workflows/{id}/steps/{step_id}/retry", retry_step, methods=["POST"]),
    Route("/api/workflows/{id}/cancel", cancel_workflow, methods=["POST"]),
    Route("/api/workflows/{id}/respond", respond_checkpoint, methods=["POST"]),
]

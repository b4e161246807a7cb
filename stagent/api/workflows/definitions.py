"""/api/workflows and /api/workflows/{id}: list, create (also from an assist plan), read, edit,
pause and delete workflow definitions.

The models below are the ones the OpenAPI document shows; the pattern rules
(store.workflows.validate_definition) then decide whether a definition can run.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field

from ...engine.profiles.registry import ProfileRegistry, check_steps
from ...engine.workflows import definition as definition_rules
from ...errors import Conflict, Invalid
from ...events import WorkflowDefinitionChanged
from ...sanitize import scrub_json
from ...store import document_context as documents
from ...store import workflow_runs as runs
from ...store import workflows as store
from .._http import Body, Int, Out, RuntimeId, _reject_constant, endpoint, ok
from ._surface import checked, db, engine, path_id, read, workflow

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
    worker_concurrency_limit: Int | None = Field(default=None, ge=1, le=definition_rules.MAX_WORKERS)


class DefinitionIn(Body):
    pattern: Pattern
    steps: list[StepIn] = Field(min_length=1, max_length=definition_rules.MAX_STEPS)
    loop_config: LoopConfigIn | None = None
    swarm_config: SwarmConfigIn | None = None
    source_task_id: str | None = None
    triggers: list[dict] | None = Field(default=None, max_length=definition_rules.MAX_TRIGGERS)  # Stan's trigger nodes
    on_interrupt: Literal["retry", "fail"] = "retry"           # extension: the step a restart cut off
    checkpoint_timeout_seconds: float | None = Field(default=None, gt=0, le=definition_rules.MAX_CHECKPOINT_TIMEOUT)


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


class FromAssistOut(Out):
    workflow: WorkflowOut
    taskIds: list[str]
    parentTaskId: None
    status: Literal["created", "started"]


class DeletedOut(Out):
    deleted: bool


def _definition(raw: Any) -> dict:
    """A definition as sent (an object or its JSON text): typed, then checked as runnable."""
    if raw is None:
        raise Invalid("Definition must include pattern and at least one step")
    if isinstance(raw, str):  # as strict as a body: NaN and Infinity are not JSON
        try:
            raw = scrub_json(json.loads(raw, parse_constant=_reject_constant))
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"definition is not valid JSON text: {exc}") from None
    definition = definition_rules.parse_definition(raw)
    if not definition.get("pattern") or not definition.get("steps"):
        raise Invalid("Definition must include pattern and at least one step")
    definition_rules.check_limits(definition)  # before anything that grows with the steps
    checked(DefinitionIn, definition, "definition")
    return definition_rules.validate_definition({k: v for k, v in definition.items() if k not in store.RUN_STATE_KEYS})


async def _check_documents(request, definition: dict) -> None:
    """The steps' `documentIds` must name documents: unknown ones are a 400."""
    ids = [d for step in definition.get("steps") or [] for d in step.get("documentIds") or []]
    await documents.require(db(request), ids, flatten=False)


def _name(data: dict) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Name is required")
    return name


@endpoint(response=list[WorkflowOut])
async def list_workflows(request):
    """Workflows, newest first, with taskCount and outputDocCount."""
    return ok(await runs.list_with_counts(db(request)))


@endpoint(body=WorkflowCreate, response=WorkflowOut, status=201, errors=(400,))
async def create_workflow(request):
    """Create a draft; the definition must be runnable (pattern rules)."""
    data = await read(request)
    name = _name(data)
    definition = _definition(data.get("definition"))
    body = checked(WorkflowCreate, data)
    await check_steps(ProfileRegistry(db(request)), definition, body.project_id)  # unknown profiles: 400
    await _check_documents(request, definition)
    created = await store.create_workflow(db(request), name=name, definition=definition, project_id=body.project_id)
    request.app.state.events.publish(WorkflowDefinitionChanged(created["id"]))
    return ok(await workflow(request, created["id"]), 201)


@endpoint(response=WorkflowOut, errors=(404,))
async def get_workflow(request):
    """One workflow (extension; the catalog reads it through /status)."""
    return ok(await workflow(request, path_id(request)))


@endpoint(body=WorkflowUpdate, response=WorkflowOut | PausedOut, errors=(400, 404, 409))
async def update_workflow(request):
    """Mode A: `name` and/or `definition` (draft, completed or failed; a finished workflow goes
    back to draft). Mode B: `{"status": "paused"}` pauses an active workflow."""
    data = await read(request)
    current = await workflow(request, path_id(request))
    if "name" in data or "definition" in data:
        if current["status"] not in store.EDITABLE:
            raise Conflict("Cannot edit active or paused workflows")
        name = _name(data) if "name" in data else None
        definition = _definition(data["definition"]) if "definition" in data else None
        checked(WorkflowUpdate, {k: v for k, v in data.items() if k != "definition"})
        if definition is not None:  # unknown profiles: 400
            await check_steps(ProfileRegistry(db(request)), definition, current.get("projectId"))
            await _check_documents(request, definition)
        try:
            await store.replace(db(request), current["id"], name=name, definition=definition)
        except Conflict:
            raise Conflict("Cannot edit active or paused workflows") from None
        # Every edit, a rename too: a schedule trigger's schedule is named after the workflow.
        request.app.state.events.publish(WorkflowDefinitionChanged(current["id"]))
        return ok(await workflow(request, current["id"]))
    status = data.get("status")
    if status is None:
        raise Invalid("status, name, or definition is required")
    if status == "paused":
        return ok(await engine(request).pause(current["id"]))
    if status == "active":
        raise Invalid("Use POST /api/workflows/[id]/execute to resume a workflow")
    raise Invalid(f"Invalid status transition: {status}")


@endpoint(response=DeletedOut, errors=(404, 409))
async def delete_workflow(request):
    """Delete the workflow with its step tasks; 409 while it runs."""
    await engine(request).delete(path_id(request))
    return ok({"deleted": True})


@endpoint(body=FromAssist, response=FromAssistOut, status=201, errors=(400,))
async def from_assist(request):
    """The workflow and one planned task per step, in one transaction; optionally started."""
    data = await read(request)
    name = _name(data).strip()
    definition = _definition(data.get("definition"))
    body = checked(FromAssist, data)
    await _check_documents(request, definition)
    created, task_ids = await db(request).write(lambda conn: runs.create_with_tasks_in(
        conn, name=name[:store.NAME_MAX], definition=definition, project_id=body.project_id,
        priority=body.priority, assigned_agent=body.assigned_agent))
    request.app.state.events.publish(WorkflowDefinitionChanged(created["id"]))
    if body.execute_immediately:
        await engine(request).start(created["id"], trigger="assist")
    return ok({"workflow": await workflow(request, created["id"]), "taskIds": task_ids, "parentTaskId": None,
               "status": "started" if body.execute_immediately else "created"}, 201)

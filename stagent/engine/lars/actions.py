"""The one registry of Lars action types: params model, risk rule and executor of each.

An action type maps to a real operation through the same store and engine calls the HTTP
routes use (tasks, runner, schedules, workflows, clients, notifications, channels), so what
an executed action reports is what the API shows afterwards. The risk level is stagent's
decision from the type and its target (RISK below), never the model's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from ...db import Database
from ...errors import NotFound
from ...events import NotificationCreated
from ...store import channels as channel_store
from ...store import clients as client_store
from ...store import notifications as notification_store
from ...store import tasks as task_store
from ...store import workflows as workflow_store
from ..schedules import editing as schedule_service
from ..schedules.parse import parse_interval

RISK_LEVELS = ("low", "medium", "high")
LIVE_TASK_STATUSES = ("queued", "running")  # a task with an agent run waiting or under way


@dataclass(frozen=True)
class Workspace:
    """A Lars workspace: a project, or `default` (the tasks, schedules and workflows of no project)."""

    id: str
    project_id: str | None


class ActionFailed(Exception):
    """The operation could not be done; stored as the action's error (status FAILED)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ActionContext:
    db: Database
    workspace: Workspace
    events: Any      # EventBus
    runner: Any      # engine.runner.Runner
    scheduler: Any   # engine.scheduler.Scheduler
    channels: Any    # engine.channels.ChannelDelivery
    workflows: Any   # engine.workflows.engine.WorkflowEngine, or None (RUN_WORKFLOW then fails)


# ---- params ------------------------------------------------------------------------------------

def _iso_datetime(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date or date-time, e.g. 2024-02-01T10:00:00Z") from None
    return value


IsoDateTime = Annotated[str, Field(max_length=40), AfterValidator(_iso_datetime)]  # also the clients API's
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Params(BaseModel):
    """Params of one action type: camelCase, unknown keys refused (the model is told which)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=True)

    def dump(self) -> dict:
        return self.model_dump(by_alias=True, exclude_unset=True)


def _at_least_one(params: BaseModel, *names: str) -> None:
    if not params.model_fields_set & set(names):
        raise ValueError(f"give at least one of: {', '.join(to_camel(n) for n in names)}")


class CreateTaskParams(Params):
    title: Text
    description: str | None = Field(default=None, max_length=10_000)
    client_id: str | None = None
    due_at: IsoDateTime | None = None
    priority: int | None = Field(default=None, ge=0, le=3)


class UpdateTaskParams(Params):
    task_id: str = Field(min_length=1)
    title: Text | None = None
    description: str | None = Field(default=None, max_length=10_000)
    status: Literal[task_store.STATUSES] | None = None
    priority: int | None = Field(default=None, ge=0, le=3)

    @model_validator(mode="after")
    def _changes(self):
        _at_least_one(self, "title", "description", "status", "priority")
        return self


class CreateScheduleParams(Params):
    name: Text
    interval: Text
    prompt: str = Field(min_length=1, max_length=20_000)
    client_id: str | None = None


class RunWorkflowParams(Params):
    workflow_id: str = Field(min_length=1)


class UpdateClientParams(Params):
    client_id: str = Field(min_length=1)
    health_score: int | None = Field(default=None, ge=0, le=100)
    status: Literal[client_store.STATUSES] | None = None
    owner: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=10_000)
    last_contact_at: IsoDateTime | None = None

    @model_validator(mode="after")
    def _changes(self):
        _at_least_one(self, "health_score", "status", "owner", "notes", "last_contact_at")
        return self


class SendNotificationParams(Params):
    title: Text
    message: str = Field(min_length=1, max_length=5_000)
    channel_id: str | None = None
    client_id: str | None = None


# ---- executors ---------------------------------------------------------------------------------

async def _client(ctx: ActionContext, client_id: str | None) -> dict | None:
    if client_id is None:
        return None
    client = await client_store.find(ctx.db, ctx.workspace.id, client_id)
    if client is None:
        raise ActionFailed(f"Client not found: {client_id}")
    return client


async def _in_workspace(ctx: ActionContext, kind: str, fetch, record_id: str) -> dict:
    """The task or workflow, only when it belongs to the action's workspace."""
    try:
        record = await fetch(ctx.db, record_id)
    except NotFound:
        record = None
    if record is None or record.get("projectId") != ctx.workspace.project_id:
        raise ActionFailed(f"{kind} not found in this workspace: {record_id}")
    return record


async def _task_in_workspace(ctx: ActionContext, task_id: str) -> dict:
    return await _in_workspace(ctx, "Task", task_store.get_task_row, task_id)


async def _workflow_in_workspace(ctx: ActionContext, workflow_id: str) -> dict:
    return await _in_workspace(ctx, "Workflow", workflow_store.get_workflow, workflow_id)


async def _channel(ctx: ActionContext, channel_id: str | None) -> None:
    if channel_id is not None and await channel_store.get_channel_raw(ctx.db, channel_id) is None:
        raise ActionFailed(f"Channel not found: {channel_id}")


# An executor's result never has a `title`: Lars adds the action's own (the document's example).

async def create_task(ctx: ActionContext, p: CreateTaskParams) -> dict:
    client = await _client(ctx, p.client_id)
    footer = [f"Client: {client['name']} ({client['id']})"] if client else []
    footer += [f"Due: {p.due_at}"] if p.due_at else []
    description = "\n\n".join(part for part in (p.description, "\n".join(footer)) if part) or None
    task = await task_store.create_task(ctx.db, {
        "title": p.title, "description": description, "project_id": ctx.workspace.project_id,
        "priority": p.priority, "source_type": "lars"})
    return {"taskId": task["id"], "taskTitle": task["title"], "status": task["status"],
            **({"dueAt": p.due_at} if p.due_at else {})}


async def update_task(ctx: ActionContext, p: UpdateTaskParams) -> dict:
    await _task_in_workspace(ctx, p.task_id)
    fields = {k: v for k, v in p.model_dump(exclude_unset=True).items() if k != "task_id"}
    task = await ctx.runner.update(p.task_id, fields)  # the PATCH rules: transitions, live runs
    return {"taskId": task["id"], "taskTitle": task["title"], "status": task["status"],
            "priority": task["priority"]}


async def create_schedule(ctx: ActionContext, p: CreateScheduleParams) -> dict:
    await _client(ctx, p.client_id)
    schedule = await schedule_service.create(ctx.db, ctx.scheduler, {
        "name": p.name, "interval": p.interval, "prompt": p.prompt, "project_id": ctx.workspace.project_id})
    return {"scheduleId": schedule["id"], "name": schedule["name"], "cronExpression": schedule["cronExpression"],
            "nextFireAt": schedule.get("nextFireAt")}


async def run_workflow(ctx: ActionContext, p: RunWorkflowParams) -> dict:
    await _workflow_in_workspace(ctx, p.workflow_id)
    if ctx.workflows is None:
        raise ActionFailed("The workflow engine is not available in this daemon; the workflow was not started")
    started = await ctx.workflows.start(p.workflow_id, trigger="lars")
    return {"workflowId": started.get("workflowId", p.workflow_id), "runNumber": started.get("runNumber"),
            "status": started.get("status", "started")}


async def update_client(ctx: ActionContext, p: UpdateClientParams) -> dict:
    await _client(ctx, p.client_id)
    fields = {k: v for k, v in p.model_dump(exclude_unset=True).items() if k != "client_id"}
    client = await client_store.update(ctx.db, ctx.workspace.id, p.client_id, fields)
    return {"clientId": client["id"], "name": client["name"],
            "updated": sorted(to_camel(k) for k in fields), "client": client}


async def send_notification(ctx: ActionContext, p: SendNotificationParams) -> dict:
    await _client(ctx, p.client_id)
    await _channel(ctx, p.channel_id)
    notification = await notification_store.create(ctx.db, type="agent_message", title=p.title, body=p.message)
    ctx.events.publish(NotificationCreated(notification["id"], None, "agent_message"))
    result: dict = {"notificationId": notification["id"]}
    if p.channel_id:
        metadata = {"source": "lars", "workspaceId": ctx.workspace.id, "clientId": p.client_id}
        result["deliveryIds"] = await ctx.channels.deliver([p.channel_id], p.title, p.message, metadata=metadata,
                                                           source="lars")
    return result


# ---- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionType:
    name: str
    summary: str
    params: type[Params]
    base_risk: str
    run: Callable[[ActionContext, Any], Awaitable[dict]]


ACTION_TYPES: dict[str, ActionType] = {t.name: t for t in (
    ActionType("CREATE_TASK", "create a task (optionally about a client, with a due date)",
               CreateTaskParams, "low", create_task),
    ActionType("UPDATE_TASK", "change an existing task's title, description, status or priority",
               UpdateTaskParams, "medium", update_task),
    ActionType("CREATE_SCHEDULE", "create a recurring scheduled agent task (interval in words or cron)",
               CreateScheduleParams, "high", create_schedule),
    ActionType("RUN_WORKFLOW", "start a run of an existing workflow", RunWorkflowParams, "high", run_workflow),
    ActionType("UPDATE_CLIENT", "change a client's health score, status, owner, notes or last contact",
               UpdateClientParams, "medium", update_client),
    ActionType("SEND_NOTIFICATION", "notify the user in stagent, and through a delivery channel when channelId is given",
               SendNotificationParams, "medium", send_notification),
)}


def _raise(level: str) -> str:
    return RISK_LEVELS[min(RISK_LEVELS.index(level) + 1, len(RISK_LEVELS) - 1)]


def stops_a_run(params: Params, task: dict | None) -> bool:
    """An UPDATE_TASK whose status change ends the task's queued or running agent run."""
    return (isinstance(params, UpdateTaskParams) and task is not None and params.status is not None
            and task["status"] in LIVE_TASK_STATUSES and params.status not in (task["status"], "running"))


def risk_of(action_type: ActionType, params: Params, client: dict | None, task: dict | None = None) -> str:
    """RISK: the type's base level; high when a message leaves the machine (a channel), a client
    is marked churned, or a task's live run is stopped; one level up when the action touches a
    churned client. `task` is the target of an UPDATE_TASK as it is now."""
    level = action_type.base_risk
    if getattr(params, "channel_id", None):
        level = "high"
    if isinstance(params, UpdateClientParams) and params.status == "churned":
        level = "high"
    if stops_a_run(params, task):
        level = "high"
    if client is not None and client.get("status") == "churned":
        level = _raise(level)
    return level


def higher(a: str, b: str) -> str:
    return max(a, b, key=RISK_LEVELS.index)


class InvalidProposal(Exception):
    """What is wrong with a proposal, in words the model can act on."""


def parse(type_name: str, params: Any) -> tuple[ActionType, Params]:
    action_type = ACTION_TYPES.get(type_name) if isinstance(type_name, str) else None
    if action_type is None:
        raise InvalidProposal(f"unknown action type {type_name!r}; use one of: {', '.join(ACTION_TYPES)}")
    if not isinstance(params, dict):
        raise InvalidProposal("params must be an object")
    try:
        return action_type, action_type.params.model_validate(params)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(part) for part in err["loc"])
            message = str((err.get("ctx") or {}).get("error", err["msg"]))
            problems.append(f"params.{where}: {message}" if where else f"params: {message}")
        raise InvalidProposal("; ".join(problems)) from None


@dataclass(frozen=True)
class Targets:
    client: dict | None
    task: dict | None


async def check_targets(ctx: ActionContext, action_type: ActionType, params: Params) -> Targets:
    """The proposal's references exist in the workspace (ActionFailed or Invalid says which not);
    returns its client and task, if any."""
    client = await _client(ctx, getattr(params, "client_id", None))
    task = None
    if isinstance(params, UpdateTaskParams):
        task = await _task_in_workspace(ctx, params.task_id)
        if params.status is not None:
            task_store.check_transition(task["status"], params.status)
    elif isinstance(params, RunWorkflowParams):
        await _workflow_in_workspace(ctx, params.workflow_id)
    elif isinstance(params, CreateScheduleParams):
        parse_interval(params.interval)
    elif isinstance(params, SendNotificationParams):
        await _channel(ctx, params.channel_id)
    return Targets(client, task)


async def target_task(ctx: ActionContext, params: Params) -> dict | None:
    """The task an UPDATE_TASK targets as it is now; None when it is gone (the run then fails)."""
    if not isinstance(params, UpdateTaskParams):
        return None
    try:
        return await _task_in_workspace(ctx, params.task_id)
    except ActionFailed:
        return None


def describe_types() -> str:
    """One line per type with its params (required ones marked), for the tool and the prompt."""
    lines = []
    for action_type in ACTION_TYPES.values():
        fields = [f"{field.alias or name}{'' if field.is_required() else '?'}"
                  for name, field in action_type.params.model_fields.items()]
        lines.append(f"- {action_type.name}: {action_type.summary}. params: {{{', '.join(fields)}}}")
    return "\n".join(lines)

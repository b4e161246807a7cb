"""/api/v1/stan/tasks: Stan's scheduled tasks, the same schedules as /api/schedules seen through
Stan's fields (`schedule` = cronExpression, `lastRunAt` = lastFiredAt, `nextRunAt` = nextFireAt).

`action` names a built-in action (engine/actions.py) or is the instruction the agent runs.
Only `type: "scheduled"` schedules are Stan tasks.
"""

from __future__ import annotations

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ...engine.agent.providers import DEFAULT_RUNTIME, RUNTIMES, resolve_model
from ...engine.chat.models import MODEL_ID_SCHEMA, check_model
from ...engine.schedules import editing as service
from ...engine.schedules.scheduled_actions import ACTIONS
from ...errors import Invalid, NotFound
from ...store import schedules as store
from .._http import Body, Out, endpoint, ok, read_body


class StanTaskCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=20000)
    schedule: str = Field(min_length=1, max_length=200)
    model_id: str = Field(min_length=1, max_length=200, json_schema_extra=MODEL_ID_SCHEMA)


class StanTaskUpdate(Body):
    name: str = Field(default=None, min_length=1, max_length=200)
    action: str = Field(default=None, min_length=1, max_length=20000)
    schedule: str = Field(default=None, min_length=1, max_length=200)
    model_id: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=MODEL_ID_SCHEMA)


class StanTaskOut(Out):
    id: str
    name: str
    action: str
    schedule: str
    modelId: str
    status: str
    createdAt: str
    lastRunAt: str | None
    nextRunAt: str | None


def stan_view(schedule: dict, model_id: str) -> dict:
    return {"id": schedule["id"], "name": schedule["name"], "action": schedule["action"] or schedule["prompt"],
            "schedule": schedule["cronExpression"], "modelId": model_id, "status": schedule["status"],
            "createdAt": schedule["createdAt"], "lastRunAt": schedule["lastFiredAt"],
            "nextRunAt": schedule["nextFireAt"]}


async def stan_views(db, schedules: list[dict]) -> list[dict]:
    """The Stan objects; `modelId` is always a string: a schedule without one shows the model its
    runs use (its runtime's, else the daemon's default), as engine/agent/providers.py picks it."""
    defaults: dict[str | None, str] = {}
    views = []
    for schedule in schedules:
        model_id = schedule["modelId"]
        if not model_id:
            runtime = schedule.get("assignedAgent")
            if runtime not in defaults:
                try:
                    defaults[runtime] = (await resolve_model(db, runtime_id=runtime)).model
                except Invalid:  # no provider yet: what the default runtime will use once one is set
                    defaults[runtime] = RUNTIMES[DEFAULT_RUNTIME].default_model
            model_id = defaults[runtime]
        views.append(stan_view(schedule, model_id))
    return views


def _schedule_fields(given: dict) -> dict:
    fields = {}
    if "name" in given:
        fields["name"] = given["name"]
    if "schedule" in given:
        fields["interval"] = given["schedule"]
    if "model_id" in given:
        fields["model_id"] = given["model_id"]
    if "action" in given:
        action = given["action"]
        fields["action"] = action
        fields["prompt"] = ACTIONS[action].prompt if action in ACTIONS else action
    return fields


def _not_found() -> NotFound:
    return NotFound("Scheduled task not found: list them with GET /api/v1/stan/tasks")


async def _stan_schedule(db, schedule_id: str) -> dict:
    try:
        schedule = await store.get(db, schedule_id)
    except NotFound:
        raise _not_found() from None
    if schedule["type"] != "scheduled":
        raise _not_found()
    return schedule


@endpoint(response=list[StanTaskOut], errors=(401, 403))
async def list_tasks(request):
    """All scheduled tasks, newest first."""
    db = request.app.state.db
    return ok(await stan_views(db, await store.list_schedules(db, "scheduled")))


@endpoint(body=StanTaskCreate, response=StanTaskOut, status=201, errors=(400, 401, 403))
async def create_task(request):
    """Create a scheduled task; `schedule` is a cron expression (natural language is accepted too)."""
    body = await read_body(request, StanTaskCreate)
    state = request.app.state
    await check_model(state.db, body.model_id, field="modelId")
    schedule = await service.create(state.db, state.scheduler, _schedule_fields(body.given()))
    return ok((await stan_views(state.db, [schedule]))[0], 201)


@endpoint(response=StanTaskOut, errors=(401, 403, 404))
async def get_task(request):
    db = request.app.state.db
    return ok((await stan_views(db, [await _stan_schedule(db, request.path_params["id"])]))[0])


@endpoint(body=StanTaskUpdate, errors=(400, 401, 403, 404))
async def update_task(request):
    body = await read_body(request, StanTaskUpdate)
    state, schedule_id = request.app.state, request.path_params["id"]
    await _stan_schedule(state.db, schedule_id)
    if body.model_id is not None:
        await check_model(state.db, body.model_id, field="modelId")
    await service.update(state.db, state.scheduler, schedule_id, _schedule_fields(body.given()))
    return ok({"updated": True})


@endpoint(status=204, errors=(401, 403, 404))
async def delete_task(request):
    state, schedule_id = request.app.state, request.path_params["id"]
    await _stan_schedule(state.db, schedule_id)
    await service.delete(state.db, state.scheduler, schedule_id)
    return Response(status_code=204)


async def _set_status(request, status: str) -> None:
    state, schedule_id = request.app.state, request.path_params["id"]
    schedule = await _stan_schedule(state.db, schedule_id)
    if schedule["status"] != status:  # pausing a paused task (or resuming an active one) is a no-op
        await service.set_status(state.db, state.scheduler, schedule_id, status)


@endpoint(errors=(401, 403, 404, 409))
async def pause_task(request):
    """Stop firing until resumed; 409 for a task that has completed or expired."""
    await _set_status(request, "paused")
    return ok({"paused": True})


@endpoint(errors=(401, 403, 404, 409))
async def resume_task(request):
    """Fire again from the next slot (missed slots while paused are not caught up)."""
    await _set_status(request, "active")
    return ok({"resumed": True})


routes = [
    Route("/api/v1/stan/tasks", list_tasks, methods=["GET"]),
    Route("/api/v1/stan/tasks", create_task, methods=["POST"]),
    Route("/api/v1/stan/tasks/{id}", get_task, methods=["GET"]),
    Route("/api/v1/stan/tasks/{id}", update_task, methods=["PUT"]),
    Route("/api/v1/stan/tasks/{id}", delete_task, methods=["DELETE"]),
    Route("/api/v1/stan/tasks/{id}/pause", pause_task, methods=["POST"]),
    Route("/api/v1/stan/tasks/{id}/resume", resume_task, methods=["POST"]),
]

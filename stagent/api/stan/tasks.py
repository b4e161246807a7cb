"""/api/v1/stan/tasks: Stan's scheduled tasks, the same schedules as /api/schedules seen through
Stan's fields (`schedule` = cronExpression, `lastRunAt` = lastFiredAt, `nextRunAt` = nextFireAt).

`action` names a built-in action (engine/actions.py) or is the instruction the agent runs.
Only `type: "scheduled"` schedules are Stan tasks.
"""

from __future__ import annotations

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ...engine.schedules import editing as service
from ...engine.schedules.scheduled_actions import ACTIONS
from ...errors import NotFound
from ...store import schedules as store
from .._http import Body, Out, endpoint, ok, read_body
from ._surface import stan_auth


class StanTaskCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=20000)
    schedule: str = Field(min_length=1, max_length=200)
    model_id: str = Field(min_length=1, max_length=200)


class StanTaskUpdate(Body):
    name: str = Field(default=None, min_length=1, max_length=200)
    action: str = Field(default=None, min_length=1, max_length=20000)
    schedule: str = Field(default=None, min_length=1, max_length=200)
    model_id: str = Field(default=None, min_length=1, max_length=200)


class StanTaskOut(Out):
    id: str
    name: str
    action: str
    schedule: str
    modelId: str | None
    status: str
    createdAt: str
    lastRunAt: str | None
    nextRunAt: str | None


def stan_view(schedule: dict) -> dict:
    return {"id": schedule["id"], "name": schedule["name"], "action": schedule["action"] or schedule["prompt"],
            "schedule": schedule["cronExpression"], "modelId": schedule["modelId"], "status": schedule["status"],
            "createdAt": schedule["createdAt"], "lastRunAt": schedule["lastFiredAt"],
            "nextRunAt": schedule["nextFireAt"]}


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


async def _stan_schedule(db, schedule_id: str) -> dict:
    schedule = await store.get(db, schedule_id)
    if schedule["type"] != "scheduled":
        raise NotFound("Scheduled task not found")
    return schedule


@endpoint(response=list[StanTaskOut], errors=(401, 403))
async def list_tasks(request):
    """All scheduled tasks, newest first."""
    stan_auth(request)
    return ok([stan_view(s) for s in await store.list_schedules(request.app.state.db, "scheduled")])


@endpoint(body=StanTaskCreate, response=StanTaskOut, status=201, errors=(400, 401, 403))
async def create_task(request):
    """Create a scheduled task; `schedule` is a cron expression (natural language is accepted too)."""
    stan_auth(request)
    body = await read_body(request, StanTaskCreate)
    state = request.app.state
    schedule = await service.create(state.db, state.scheduler, _schedule_fields(body.given()))
    return ok(stan_view(schedule), 201)


@endpoint(response=StanTaskOut, errors=(401, 403, 404))
async def get_task(request):
    stan_auth(request)
    return ok(stan_view(await _stan_schedule(request.app.state.db, request.path_params["id"])))


@endpoint(body=StanTaskUpdate, errors=(400, 401, 403, 404))
async def update_task(request):
    stan_auth(request)
    body = await read_body(request, StanTaskUpdate)
    state, schedule_id = request.app.state, request.path_params["id"]
    await _stan_schedule(state.db, schedule_id)
    await service.update(state.db, state.scheduler, schedule_id, _schedule_fields(body.given()))
    return ok({"updated": True})


@endpoint(status=204, errors=(401, 403, 404))
async def delete_task(request):
    stan_auth(request)
    state, schedule_id = request.app.state, request.path_params["id"]
    await _stan_schedule(state.db, schedule_id)
    await service.delete(state.db, state.scheduler, schedule_id)
    return Response(status_code=204)


async def _set_status(request, status: str) -> None:
    stan_auth(request)
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

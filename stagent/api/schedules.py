"""/api/schedules: the catalog's 7 endpoints, plus `POST /api/schedules/{id}/execute` (run now).

Errors are the original's plain `{"error": "<sentence>"}` (this domain never used the Zod shape).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..db.rows import to_iso
from ..engine.profiles.registry import ProfileRegistry
from ..engine.schedules import editing as service
from ..engine.schedules.parse import local_zone_name, next_fire_times, parse_interval, zone
from ..engine.schedules.rules import presented
from ..errors import Invalid
from ..store import document_context as document_store
from ..store import schedules as store
from ._http import Body, Int, Out, RuntimeId, endpoint, ok, read_body

Hour = Int
MAX_MICROS = 10**15  # a billion dollars a day: any larger number is a mistake


class ChecklistItem(Body):
    id: str = Field(min_length=1, max_length=100)
    instruction: str = Field(min_length=1, max_length=2000)
    priority: Literal["high", "medium", "low"] = "medium"


class ScheduleFields(Body):
    prompt: str | None = Field(default=None, max_length=20000)
    project_id: str | None = None
    assigned_agent: RuntimeId | None = None
    agent_profile: str | None = Field(default=None, max_length=200)
    model_id: str | None = Field(default=None, max_length=200)  # extension (Stan's modelId)
    action: str | None = Field(default=None, max_length=20000)  # extension (Stan's action)
    time_zone: str | None = Field(default=None, max_length=64)  # extension: cron's zone, default local
    missed_policy: Literal["skip", "run_once"] = None            # extension
    overlap_policy: Literal["skip", "queue"] = None              # extension
    delivery_channels: list[str] | None = None                   # extension (the original had no route)
    heartbeat_checklist: list[ChecklistItem] | None = None
    active_hours_start: Hour | None = Field(default=None, ge=0, le=23)
    active_hours_end: Hour | None = Field(default=None, ge=0, le=23)
    active_timezone: str | None = Field(default=None, max_length=64)
    heartbeat_budget_per_day: Int | None = Field(default=None, ge=0, le=MAX_MICROS)  # micro-dollars, as stored
    heartbeat_budget_per_day_usd: float | None = Field(default=None, ge=0, le=MAX_MICROS / 1e6)  # extension


class ScheduleCreate(ScheduleFields):
    name: str = Field(min_length=1, max_length=200)
    interval: str = Field(min_length=1, max_length=200)
    type: Literal["scheduled", "heartbeat"] = "scheduled"
    recurs: bool = True
    max_firings: Int | None = Field(default=None, ge=1, le=2**31)
    expires_in_hours: float | None = Field(default=None, gt=0, le=876_000)  # 100 years
    document_ids: list[str] | None = None


class ScheduleUpdate(ScheduleFields):
    status: Literal["active", "paused"] = None
    name: str = Field(default=None, min_length=1, max_length=200)
    interval: str = Field(default=None, min_length=1, max_length=200)
    document_ids: list[str] | None = None  # extension: replaces the schedule's documents


class ParseRequest(Body):
    expression: str = Field(min_length=1, max_length=200)
    count: Int = Field(default=3, ge=1, le=10)  # extension: how many fire times to preview
    time_zone: str | None = Field(default=None, max_length=64)  # extension: the zone to preview in
    validate_only: bool = Field(default=False, alias="validate")  # extension: 200 {valid: false, error}


class ScheduleOut(Out):
    id: str
    name: str
    prompt: str
    cronExpression: str
    status: str
    type: str
    nextFireAt: str | None


def _fields(body) -> dict:
    fields = body.given()
    if "heartbeat_checklist" in fields and fields["heartbeat_checklist"] is not None:
        fields["heartbeat_checklist"] = [item.model_dump() for item in body.heartbeat_checklist]
    return fields


@endpoint(response=list[ScheduleOut])
async def list_schedules(request):
    """List schedules, newest first; each with `description`, `effectiveTimeZone` and the next
    three `nextFireTimes` (extension)."""
    return ok([presented(s) for s in await store.list_schedules(request.app.state.db)])


@endpoint(body=ScheduleCreate, response=ScheduleOut, status=201, errors=(400,))
async def create_schedule(request):
    """Create a cron or heartbeat schedule from natural language, shorthand or cron."""
    body = await read_body(request, ScheduleCreate, plain=True)
    state = request.app.state
    await ProfileRegistry(state.db).check_reference(body.agent_profile, body.assigned_agent, body.project_id,
                                                    flatten=False)
    return ok(presented(await service.create(state.db, state.scheduler, _fields(body))), 201)


@endpoint(response=ScheduleOut, errors=(404,))
async def get_schedule(request):
    """One schedule with its firing history (newest first)."""
    db, schedule_id = request.app.state.db, request.path_params["id"]
    schedule = presented(await store.get(db, schedule_id))
    schedule["firingHistory"] = await store.firing_history(db, schedule_id)
    schedule["documentIds"] = await document_store.schedule_document_ids(db, schedule_id)  # extension
    return ok(schedule)


@endpoint(body=ScheduleUpdate, response=ScheduleOut, errors=(400, 404, 409))
async def update_schedule(request):
    """Pause/resume and edit; a new interval recomputes the next fire time."""
    body = await read_body(request, ScheduleUpdate, plain=True)
    state = request.app.state
    await ProfileRegistry(state.db).check_reference(getattr(body, "agent_profile", None),
                                                    getattr(body, "assigned_agent", None), flatten=False)
    return ok(presented(await service.update(state.db, state.scheduler, request.path_params["id"], _fields(body))))


@endpoint(errors=(404,))
async def delete_schedule(request):
    """Delete a schedule; the tasks it created are kept."""
    state = request.app.state
    await service.delete(state.db, state.scheduler, request.path_params["id"])
    return ok({"deleted": True})


@endpoint(body=ParseRequest, errors=(400,))
async def parse_schedule(request):
    """Preview an interval: its cron form, a description and the next fire times (three, or
    `count`), in `timeZone` (extension; default the machine's zone, named in the answer)."""
    body = await read_body(request, ParseRequest, plain=True)
    try:
        parsed = parse_interval(body.expression)
        tz = zone(body.time_zone).key if body.time_zone is not None else local_zone_name()
        times = next_fire_times(parsed.cron_expression, tz, body.count)
    except Invalid as exc:
        if not body.validate_only:
            raise
        # A preview asked while typing: an answer, not an error the browser logs.
        return ok({"valid": False, "error": exc.message})
    out = {"cronExpression": parsed.cron_expression, "description": parsed.description,
           "nextFireTimes": [to_iso(t) for t in times], "confidence": parsed.confidence, "timeZone": tz}
    return ok({"valid": True, **out} if body.validate_only else out)


@endpoint(errors=(400, 404))
async def heartbeat_history(request):
    """The last 50 heartbeat evaluations of a heartbeat schedule, with its counters."""
    db, schedule_id = request.app.state.db, request.path_params["id"]
    schedule = await store.get(db, schedule_id)
    if schedule["type"] != "heartbeat":
        raise Invalid("Not a heartbeat schedule")
    history = await store.heartbeat_history(db, schedule_id)
    return ok({"history": history, "stats": {
        "suppressionCount": schedule["suppressionCount"], "lastActionAt": schedule["lastActionAt"],
        "firingCount": schedule["firingCount"], "heartbeatSpentToday": schedule["heartbeatSpentToday"],
        "heartbeatBudgetPerDay": schedule["heartbeatBudgetPerDay"]}})


@endpoint(status=202, errors=(404, 409))
async def execute_schedule(request):
    """Fire a schedule now (a manual firing), whatever its next slot; 409 while one is running."""
    state = request.app.state
    task = await state.scheduler.fire_now(request.path_params["id"])
    return ok({"taskId": task["id"], "task": task}, 202)


routes = [
    Route("/api/schedules", list_schedules, methods=["GET"]),
    Route("/api/schedules", create_schedule, methods=["POST"]),
    Route("/api/schedules/parse", parse_schedule, methods=["POST"]),
    Route("/api/schedules/{id}", get_schedule, methods=["GET"]),
    Route("/api/schedules/{id}", update_schedule, methods=["PATCH"]),
    Route("/api/schedules/{id}", delete_schedule, methods=["DELETE"]),
    Route("/api/schedules/{id}/heartbeat-history", heartbeat_history, methods=["GET"]),
    Route("/api/schedules/{id}/execute", execute_schedule, methods=["POST"]),
]

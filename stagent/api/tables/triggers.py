"""/api/tables/{id}/triggers: what a row change starts (engine/tables/triggers.py runs them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ...engine.tables import rows
from ...engine.tables import triggers as engine
from ...errors import NotFound
from ...store import user_table_triggers as store
from .._http import Body, Out, endpoint, ok, read_body

Event = Literal[store.EVENTS]
Action = Literal[store.ACTIONS]
Status = Literal[store.STATUSES]


class TriggerCreate(Body):
    name: str = Field(min_length=1, max_length=256)
    trigger_event: Event
    action_type: Action
    action_config: dict
    condition: Any = None  # a filter {column, operator, value}, a list of them, or null (always)


class TriggerUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=256)
    trigger_event: Event | None = None
    status: Status | None = None
    condition: Any = None
    action_type: Action | None = None
    action_config: dict | None = None


class TriggerToggle(Body):
    trigger_id: str = Field(min_length=1, max_length=100)
    status: Status


class TriggerOut(Out):
    id: str
    tableId: str
    name: str
    triggerEvent: str
    condition: Any = None
    actionType: str
    actionConfig: dict
    status: str
    fireCount: int
    lastFiredAt: str | None = None
    createdAt: str
    updatedAt: str


def _db(request):
    return request.app.state.db


@endpoint(response=list[TriggerOut], errors=(404,))
async def list_triggers(request):
    """The table's triggers, oldest first."""
    table_id = request.path_params["id"]
    await rows.table_columns(_db(request), table_id)
    return ok(await store.list_triggers(_db(request), table_id))


@endpoint(body=TriggerCreate, response=TriggerOut, status=201, errors=(400, 404))
async def create_trigger(request):
    """A trigger: on row_added/row_updated/row_deleted (when the condition holds) create a task or run a workflow."""
    table_id = request.path_params["id"]
    columns = await rows.table_columns(_db(request), table_id)
    body = await read_body(request, TriggerCreate)
    condition = engine.check_condition(body.condition, columns)
    config = await engine.check_action(_db(request), body.action_type, body.action_config)
    trigger = await store.create_trigger(_db(request), table_id, {
        "name": body.name.strip() or body.name, "trigger_event": body.trigger_event, "condition": condition,
        "action_type": body.action_type, "action_config": config})
    return ok(trigger, 201)


@endpoint(body=TriggerToggle, errors=(400, 404))
async def toggle_trigger(request):
    """Pause or resume a trigger named in the body (the code's route; not in the docs)."""
    table_id = request.path_params["id"]
    await rows.table_columns(_db(request), table_id)
    body = await read_body(request, TriggerToggle)
    if await store.update_trigger(_db(request), table_id, body.trigger_id, {"status": body.status}) is None:
        raise NotFound("Trigger not found")
    return ok({"success": True})


@endpoint(body=TriggerUpdate, response=TriggerOut, errors=(400, 404))
async def update_trigger(request):
    """Change a trigger; `condition: null` clears it (always fires)."""
    table_id, trigger_id = request.path_params["id"], request.path_params["triggerId"]
    columns = await rows.table_columns(_db(request), table_id)
    body = await read_body(request, TriggerUpdate)
    current = await store.get_trigger(_db(request), table_id, trigger_id)
    if current is None:
        raise NotFound("Trigger not found")
    changes = body.given()
    if "condition" in changes:
        changes["condition"] = engine.check_condition(changes["condition"], columns)
    if "action_type" in changes or "action_config" in changes:
        action = changes.get("action_type") or current["actionType"]
        config = changes.get("action_config", current["actionConfig"])
        changes["action_config"] = await engine.check_action(_db(request), action, config)
    if changes.get("name") is not None:
        changes["name"] = changes["name"].strip() or changes["name"]
    changes = {k: v for k, v in changes.items() if v is not None or k == "condition"}
    trigger = await store.update_trigger(_db(request), table_id, trigger_id, changes)
    if trigger is None:
        raise NotFound("Trigger not found")
    return ok(trigger)


@endpoint(status=204, errors=(404,))
async def delete_trigger(request):
    """Delete a trigger."""
    table_id, trigger_id = request.path_params["id"], request.path_params["triggerId"]
    await rows.table_columns(_db(request), table_id)
    if not await store.delete_trigger(_db(request), table_id, trigger_id):
        raise NotFound("Trigger not found")
    return Response(status_code=204)


routes = [
    Route("/api/tables/{id}/triggers", list_triggers, methods=["GET"]),
    Route("/api/tables/{id}/triggers", create_trigger, methods=["POST"]),
    Route("/api/tables/{id}/triggers", toggle_trigger, methods=["PATCH"]),
    Route("/api/tables/{id}/triggers/{triggerId}", update_trigger, methods=["PATCH"]),
    Route("/api/tables/{id}/triggers/{triggerId}", delete_trigger, methods=["DELETE"]),
]

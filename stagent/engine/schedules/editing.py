"""Creating and editing schedules: one set of rules behind the Stagent and the Stan routes.

Every change that moves a fire time wakes the scheduler, so it never sleeps past a new slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import to_iso
from ...errors import Conflict, Invalid, NotFound
from ...store import channels as channel_store
from ...store import document_context as document_store
from ...store import projects as project_store
from ...store import schedules as store
from . import rules as rules
from .parse import parse_interval, zone

MICROS_PER_USD = 1_000_000


def _normalise(fields: dict, current: dict | None) -> dict:
    """Validate what the schedule rules need and derive cron, checklist and budget columns."""
    out = dict(fields)
    if "interval" in out:
        out["cron_expression"] = parse_interval(out.pop("interval")).cron_expression
    if "active_timezone" in out and out["active_timezone"] is None:
        out["active_timezone"] = "UTC"  # null resets it to the default
    for field in ("time_zone", "active_timezone"):
        if out.get(field) is not None:
            zone(out[field])  # Invalid (INVALID_TIMEZONE) for a name that is not IANA
    if "heartbeat_budget_per_day_usd" in out:
        usd = out.pop("heartbeat_budget_per_day_usd")
        out["heartbeat_budget_per_day"] = None if usd is None else round(usd * MICROS_PER_USD)
    if "agent_profile" in out and out["agent_profile"] == "":
        out["agent_profile"] = None
    if "prompt" in out and (out["prompt"] is None or not out["prompt"].strip()):
        raise Invalid("prompt must not be blank")
    merged = {**(current or {}), **{_camel(k): v for k, v in out.items()}}
    if merged.get("type") == "heartbeat":
        checklist = merged.get("heartbeatChecklist")
        if not checklist:
            raise Invalid("heartbeatChecklist needs at least one item {id, instruction, priority}")
        if (merged.get("activeHoursStart") is None) != (merged.get("activeHoursEnd") is None):
            raise Invalid("activeHoursStart and activeHoursEnd must be given together")
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


async def create(db: Database, scheduler, fields: dict) -> dict:
    fields = dict(fields)
    if fields.get("type", "scheduled") == "heartbeat" and not fields.get("prompt"):
        fields["prompt"] = f"Heartbeat check: {fields['name']}"
    if not fields.get("prompt") and fields.get("action"):
        fields["prompt"] = fields["action"]
    if not fields.get("prompt"):
        raise Invalid("prompt is required for a scheduled task")
    hours = fields.pop("expires_in_hours", None)
    document_ids = fields.pop("document_ids", None)
    values = _normalise(fields, None)
    now = scheduler.clock.now() if scheduler else datetime.now(UTC)
    if hours is not None:
        values["expires_at"] = to_iso(now + timedelta(hours=hours))
    await _check_refs(db, values)
    probe = {_camel(k): v for k, v in values.items()}
    probe.setdefault("type", "scheduled")
    values["next_fire_at"] = _first_slot(probe, now)
    await document_store.require(db, document_ids, flatten=False)

    def insert(conn) -> dict:
        schedule = store.insert_in(conn, values)
        if document_ids:  # each firing's run gets them (engine/agent/document_prompt.py)
            document_store.set_schedule_documents_in(conn, schedule["id"], document_ids)
        return schedule

    schedule = await db.write(insert)
    if scheduler:
        scheduler.wake()
    return schedule


async def update(db: Database, scheduler, schedule_id: str, fields: dict) -> dict:
    current = await store.get(db, schedule_id)
    fields = dict(fields)
    document_ids = fields.pop("document_ids", None)  # an extension: replaces the bound documents
    values = _normalise(fields, current)
    await _check_refs(db, values)
    await document_store.require(db, document_ids, flatten=False)
    now = scheduler.clock.now() if scheduler else datetime.now(UTC)
    moves = {"cron_expression", "time_zone", "active_hours_start", "active_hours_end", "active_timezone"}

    def apply(conn) -> dict:
        # Re-read in the transaction: the scheduler may have fired (and completed) it meanwhile.
        fresh = store.select(conn, schedule_id)
        if fresh is None:
            raise NotFound("Schedule not found")
        changes = dict(values)
        status = changes.get("status")
        if status is not None and status == fresh["status"]:  # the catalog: 409, a bad transition
            verb = "resume" if status == "active" else "pause"
            raise Conflict(f"Schedule is already {status}: nothing to {verb}")
        if status is not None and {"paused": "active", "active": "paused"}.get(status) != fresh["status"]:
            raise Conflict(f"Cannot change status from {fresh['status']} to {status}")
        merged = {**fresh, **{_camel(k): v for k, v in changes.items()}}
        if merged["status"] == "paused":
            changes["next_fire_at"] = None
        elif merged["status"] == "active" and ("status" in changes or moves & set(changes)):
            changes["next_fire_at"] = _first_slot(merged, now)
        if document_ids is not None:
            document_store.set_schedule_documents_in(conn, schedule_id, document_ids)
        return store.update_in(conn, schedule_id, changes)

    schedule = await db.write(apply)
    if scheduler:
        scheduler.wake()
    return schedule


def _first_slot(schedule: dict, now: datetime) -> str:
    slot = rules.next_slot(schedule, now)
    if slot is None:
        raise Invalid(f"This schedule never fires inside its active hours ({schedule['activeHoursStart']}–"
                      f"{schedule['activeHoursEnd']} {schedule.get('activeTimezone') or 'UTC'}) within "
                      f"{rules.WINDOW_SEARCH_DAYS} days: widen the window or change the interval.")
    return slot


async def set_status(db: Database, scheduler, schedule_id: str, status: str) -> dict:
    return await update(db, scheduler, schedule_id, {"status": status})


async def delete(db: Database, scheduler, schedule_id: str) -> None:
    await store.delete(db, schedule_id)
    if scheduler:
        scheduler.wake()


async def _check_refs(db: Database, values: dict) -> None:
    project_id = values.get("project_id")
    if project_id is not None and not await project_store.project_exists(db, project_id):
        raise Invalid("Project not found")
    if values.get("delivery_channels"):
        await channel_store.require_ids(db, values["delivery_channels"])

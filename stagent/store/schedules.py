"""Schedules and their claimed firings (SQL only; timing decisions live in engine/scheduler.py)."""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import NotFound

TYPES = ("scheduled", "heartbeat")
STATUSES = ("active", "paused", "completed", "expired")
_JSON = ("heartbeatChecklist", "deliveryChannels")
_EDITABLE = frozenset({
    "name", "prompt", "action", "cron_expression", "time_zone", "assigned_agent", "agent_profile",
    "model_id", "project_id", "recurs", "status", "max_firings", "expires_at", "next_fire_at",
    "missed_policy", "overlap_policy", "heartbeat_checklist", "active_hours_start", "active_hours_end",
    "active_timezone", "heartbeat_budget_per_day", "delivery_channels", "firing_count",
    "last_fired_at", "suppression_count", "last_action_at", "heartbeat_spent_today",
    "heartbeat_budget_reset_at", "failure_streak", "last_failure_reason",
})


def to_schedule(row) -> dict:
    schedule = row_to_dict(row, bools=("recurs",))
    for key in _JSON:
        schedule[key] = loads(schedule.get(key), None)
    return schedule


def _encode(fields: dict) -> dict:
    out = dict(fields)
    for key in ("heartbeat_checklist", "delivery_channels"):
        if key in out and not isinstance(out[key], str | None):
            out[key] = dumps(out[key])
    if "recurs" in out and out["recurs"] is not None:
        out["recurs"] = int(bool(out["recurs"]))
    return out


def select(conn, schedule_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    return None if row is None else to_schedule(row)


async def list_schedules(db: Database, type_: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM schedules", ()
    if type_:
        sql, params = sql + " WHERE type = ?", (type_,)
    rows = await db.fetchall(sql + " ORDER BY created_at DESC, rowid DESC", params)
    return [to_schedule(r) for r in rows]


async def get(db: Database, schedule_id: str) -> dict:
    schedule = await db.read(lambda conn: select(conn, schedule_id))
    if schedule is None:
        raise NotFound("Schedule not found")
    return schedule


def insert_in(conn, fields: dict) -> dict:
    now = now_iso()
    values = {"id": new_id(), **_encode(fields), "created_at": now, "updated_at": now}
    conn.execute(f"INSERT INTO schedules ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                 tuple(values.values()))
    return select(conn, values["id"])


def set_in(conn, schedule_id: str, fields: dict) -> None:
    unknown = set(fields) - _EDITABLE
    assert not unknown, f"not editable: {unknown}"
    values = {**_encode(fields), "updated_at": now_iso()}
    changed = conn.execute(
        f"UPDATE schedules SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
        (*values.values(), schedule_id)).rowcount
    if not changed:
        raise NotFound("Schedule not found")


def update_in(conn, schedule_id: str, fields: dict) -> dict:
    set_in(conn, schedule_id, fields)
    return select(conn, schedule_id)


async def delete(db: Database, schedule_id: str) -> None:
    def run(conn):
        # Child tasks are kept, as the original does; they only lose the link.
        conn.execute("UPDATE tasks SET schedule_id = NULL WHERE schedule_id = ?", (schedule_id,))
        if not conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount:
            raise NotFound("Schedule not found")

    await db.write(run)


async def firing_history(db: Database, schedule_id: str, limit: int = 50) -> list[dict]:
    rows = await db.fetchall(
        "SELECT f.number, f.slot, f.outcome, f.reason, f.fired_at, t.id AS task_id, t.title, t.status, "
        "t.created_at, t.updated_at FROM schedule_firings f LEFT JOIN tasks t ON t.id = f.task_id "
        "WHERE f.schedule_id = ? ORDER BY f.fired_at DESC, f.rowid DESC LIMIT ?", (schedule_id, limit))
    return [row_to_dict(r) for r in rows]


# ---- what the scheduler asks ---------------------------------------------------------------

async def earliest_fire_at(db: Database) -> str | None:
    """The next due time over every active schedule: one probe of the partial index."""
    return await db.scalar("SELECT MIN(next_fire_at) FROM schedules WHERE status = 'active'")


async def due(db: Database, now: str, limit: int = 2000) -> list[dict]:
    rows = await db.fetchall(
        "SELECT * FROM schedules WHERE status = 'active' AND next_fire_at <= ? "
        "ORDER BY next_fire_at LIMIT ?", (now, limit))
    return [to_schedule(r) for r in rows]


def claim_slot(conn, schedule: dict, slot: str, outcome: str, *, task_id: str | None = None,
               reason: str | None = None) -> bool:
    """Record the firing of one slot; False when that slot was already claimed (never fire twice)."""
    cursor = conn.execute(
        "INSERT INTO schedule_firings (id, schedule_id, slot, number, task_id, outcome, reason, fired_at) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (schedule_id, slot) DO NOTHING",
        (new_id(), schedule["id"], slot, schedule["firingCount"] + 1, task_id, outcome, reason, now_iso()))
    return cursor.rowcount == 1


def attach_task(conn, schedule_id: str, slot: str, task_id: str) -> None:
    conn.execute("UPDATE schedule_firings SET task_id = ? WHERE schedule_id = ? AND slot = ?",
                 (task_id, schedule_id, slot))


def live_task_ids(conn, schedule_id: str) -> list[str]:
    """Earlier firings still queued or running (the overlap check)."""
    return [r[0] for r in conn.execute(
        "SELECT id FROM tasks WHERE schedule_id = ? AND status IN ('queued', 'running') "
        "ORDER BY created_at", (schedule_id,))]


async def oldest_queued_task(db: Database, schedule_id: str) -> str | None:
    return await db.scalar(
        "SELECT id FROM tasks WHERE schedule_id = ? AND status = 'queued' ORDER BY created_at, rowid LIMIT 1",
        (schedule_id,))


async def any_running(db: Database, schedule_id: str) -> bool:
    return bool(await db.scalar(
        "SELECT 1 FROM tasks WHERE schedule_id = ? AND status = 'running' LIMIT 1", (schedule_id,)))


async def heartbeat_history(db: Database, schedule_id: str, limit: int = 50) -> list[dict]:
    rows = await db.fetchall(
        "SELECT l.id, l.task_id, l.event, l.payload, l.timestamp FROM agent_logs l "
        "JOIN tasks t ON t.id = l.task_id WHERE t.schedule_id = ? "
        "AND l.event IN ('heartbeat_action', 'heartbeat_suppressed') ORDER BY l.seq DESC LIMIT ?",
        (schedule_id, limit))
    return [{**row_to_dict(r), "payload": loads(r["payload"], r["payload"])} for r in rows]

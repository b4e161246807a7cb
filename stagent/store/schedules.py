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


def _set_values(fields: dict, now: str) -> dict:
    unknown = set(fields) - _EDITABLE
    assert not unknown, f"not editable: {unknown}"
    return {**_encode(fields), "updated_at": now}


def _set_sql(columns) -> str:
    return f"UPDATE schedules SET {', '.join(f'{k} = ?' for k in columns)} WHERE id = ?"


def set_in(conn, schedule_id: str, fields: dict) -> None:
    values = _set_values(fields, now_iso())
    if not conn.execute(_set_sql(values), (*values.values(), schedule_id)).rowcount:
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


_CLAIM = ("INSERT INTO schedule_firings (id, schedule_id, slot, number, task_id, outcome, reason, fired_at) "
          "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (schedule_id, slot) DO NOTHING")


def _claim_row(schedule: dict, slot: str, outcome: str, task_id: str | None, reason: str | None, now: str) -> tuple:
    return new_id(), schedule["id"], slot, schedule["firingCount"] + 1, task_id, outcome, reason, now


def claim_slot(conn, schedule: dict, slot: str, outcome: str, *, task_id: str | None = None,
               reason: str | None = None) -> bool:
    """Record the firing of one slot; False when that slot was already claimed (never fire twice)."""
    return conn.execute(_CLAIM, _claim_row(schedule, slot, outcome, task_id, reason, now_iso())).rowcount == 1


def claim_slots_in(conn, claims: list[tuple[dict, str, str, str]]) -> set[str]:
    """claim_slot for many (schedule, slot, outcome, task id); the task ids whose slot this
    claimed (a slot claimed before keeps its first firing)."""
    now = now_iso()
    inserted = conn.executemany(_CLAIM, [_claim_row(schedule, slot, outcome, task_id, None, now)
                                         for schedule, slot, outcome, task_id in claims]).rowcount
    if inserted == len(claims):
        return {task_id for *_, task_id in claims}
    return {task_id for schedule, slot, _, task_id in claims if conn.execute(
        "SELECT 1 FROM schedule_firings WHERE schedule_id = ? AND slot = ? AND task_id = ?",
        (schedule["id"], slot, task_id)).fetchone()}


def set_many_in(conn, changes: list[tuple[str, dict]]) -> None:
    """set_in for many schedules: one executemany per shape of change."""
    now = now_iso()
    by_shape: dict[tuple, list] = {}
    for schedule_id, fields in changes:
        values = _set_values(fields, now)
        by_shape.setdefault(tuple(values), []).append((*values.values(), schedule_id))
    for columns, rows in by_shape.items():
        conn.executemany(_set_sql(columns), rows)


def attach_task(conn, schedule_id: str, slot: str, task_id: str) -> None:
    conn.execute("UPDATE schedule_firings SET task_id = ? WHERE schedule_id = ? AND slot = ?",
                 (task_id, schedule_id, slot))


def due_versions_in(conn, now: str) -> dict[str, tuple[str, str]]:
    """Every schedule due at `now`: id -> (next_fire_at, updated_at), to tell a row read earlier
    is still what it was."""
    return {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT id, next_fire_at, updated_at FROM schedules WHERE status = 'active' AND next_fire_at <= ?",
        (now,))}


def live_statuses_of(conn, schedule_ids: list[str]) -> dict[str, set[str]]:
    """`live_statuses` of many schedules in one statement (a burst's batch)."""
    live: dict[str, set[str]] = {}
    for schedule_id, status in conn.execute(
            "SELECT DISTINCT schedule_id, status FROM tasks WHERE schedule_id IN (SELECT value FROM json_each(?)) "
            "AND +status IN ('queued', 'running')", (dumps(schedule_ids),)):
        live.setdefault(schedule_id, set()).add(status)
    return live


def live_statuses(conn, schedule_id: str) -> set[str]:
    """The statuses of earlier firings still queued or running (the overlap check)."""
    # `+status`: look tasks up by schedule, never by status (a burst creates a thousand running
    # tasks in one transaction, and a status scan per schedule made it quadratic).
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT status FROM tasks WHERE schedule_id = ? AND +status IN ('queued', 'running')",
        (schedule_id,))}


def set_tool_names(conn, task_id: str, names: list[str]) -> None:
    conn.execute("UPDATE tasks SET tool_names = ? WHERE id = ?", (dumps(names), task_id))


async def finished_run(db: Database, task_id: str):
    """A finished task of a schedule, with what its follow-up needs; None for other tasks."""
    return await db.fetchone(
        "SELECT t.id, t.title, t.status, t.result, s.id AS schedule_id, s.type, s.delivery_channels, "
        "(SELECT COALESCE(SUM(cost_micros), 0) FROM usage_ledger WHERE task_id = t.id) AS cost "
        "FROM tasks t JOIN schedules s ON s.id = t.schedule_id WHERE t.id = ?", (task_id,))


def record_run_end_in(conn, schedule_id: str, *, failed: bool, reason: str | None, cost: int) -> None:
    conn.execute(
        "UPDATE schedules SET failure_streak = CASE WHEN ?1 THEN failure_streak + 1 ELSE 0 END, "
        "last_failure_reason = CASE WHEN ?1 THEN ?2 ELSE last_failure_reason END, "
        "heartbeat_spent_today = heartbeat_spent_today + ?3 WHERE id = ?4",
        (failed, (reason or "")[:500], cost if cost else 0, schedule_id))


def record_verdict_in(conn, schedule_id: str, *, action_needed: bool, at: str) -> None:
    if action_needed:
        conn.execute("UPDATE schedules SET last_action_at = ?, suppression_count = 0 WHERE id = ?", (at, schedule_id))
    else:
        conn.execute("UPDATE schedules SET suppression_count = suppression_count + 1 WHERE id = ?", (schedule_id,))


async def with_orphaned_queue(db: Database) -> list[str]:
    """Schedules whose queued firings wait with nothing running (a restart ended the run ahead)."""
    rows = await db.fetchall(
        "SELECT DISTINCT schedule_id FROM tasks t WHERE status = 'queued' AND schedule_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM tasks r WHERE r.schedule_id = t.schedule_id AND r.status = 'running')")
    return [r[0] for r in rows]


async def oldest_queued_task(db: Database, schedule_id: str) -> str | None:
    return await db.scalar(
        "SELECT id FROM tasks WHERE schedule_id = ? AND status = 'queued' ORDER BY created_at, rowid LIMIT 1",
        (schedule_id,))


async def any_running(db: Database, schedule_id: str) -> bool:
    return bool(await db.scalar(
        "SELECT 1 FROM tasks WHERE schedule_id = ? AND +status = 'running' LIMIT 1", (schedule_id,)))


async def heartbeat_history(db: Database, schedule_id: str, limit: int = 50) -> list[dict]:
    rows = await db.fetchall(
        "SELECT l.id, l.task_id, l.event, l.payload, l.timestamp FROM agent_logs l "
        "JOIN tasks t ON t.id = l.task_id WHERE t.schedule_id = ? "
        "AND l.event IN ('heartbeat_action', 'heartbeat_suppressed') ORDER BY l.seq DESC LIMIT ?",
        (schedule_id, limit))
    return [{**row_to_dict(r), "payload": loads(r["payload"], r["payload"])} for r in rows]

"""user_table_triggers: what a row change starts (a task or a workflow run), with its counters.

`condition` and `actionConfig` come out parsed (objects, as clients send them); `skippedCount`
and `lastError` are extensions: how many matching rows a storm limit left without an action,
and the last action that failed.
"""

from __future__ import annotations

import sqlite3

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict

EVENTS = ("row_added", "row_updated", "row_deleted")
ACTIONS = ("run_workflow", "create_task")
STATUSES = ("active", "paused")
_OUT = ("id", "tableId", "name", "triggerEvent", "condition", "actionType", "actionConfig", "status",
        "fireCount", "lastFiredAt", "skippedCount", "lastError", "createdAt", "updatedAt")
_EDITABLE = ("name", "trigger_event", "condition", "action_type", "action_config", "status")


def to_api(row) -> dict:
    out = row_to_dict(row)
    out["condition"] = loads(out.get("condition"))
    out["actionConfig"] = loads(out.get("actionConfig"), {})
    return {k: out.get(k) for k in _OUT}


async def list_triggers(db: Database, table_id: str) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM user_table_triggers WHERE table_id = ? ORDER BY created_at, rowid",
                             (table_id,))
    return [to_api(r) for r in rows]


async def get_trigger(db: Database, table_id: str, trigger_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM user_table_triggers WHERE id = ? AND table_id = ?", (trigger_id, table_id))
    return to_api(row) if row else None


async def create_trigger(db: Database, table_id: str, fields: dict) -> dict:
    trigger_id, now = new_id(), now_iso()

    def write(conn):
        conn.execute(
            "INSERT INTO user_table_triggers (id, table_id, name, trigger_event, condition, action_type, "
            "action_config, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (trigger_id, table_id, fields["name"], fields["trigger_event"], dumps(fields.get("condition")),
             fields["action_type"], dumps(fields.get("action_config") or {}), fields.get("status") or "active",
             now, now))
        return to_api(conn.execute("SELECT * FROM user_table_triggers WHERE id = ?", (trigger_id,)).fetchone())

    return await db.write(write)


async def update_trigger(db: Database, table_id: str, trigger_id: str, changes: dict) -> dict | None:
    """Set the given fields (JSON ones as values); None when there is no such trigger."""
    changes = {k: (dumps(v) if k in ("condition", "action_config") else v)
               for k, v in changes.items() if k in _EDITABLE}

    def write(conn):
        sets = "".join(f"{k} = ?, " for k in changes)
        if not conn.execute(f"UPDATE user_table_triggers SET {sets}updated_at = ? WHERE id = ? AND table_id = ?",
                            (*changes.values(), now_iso(), trigger_id, table_id)).rowcount:
            return None
        return to_api(conn.execute("SELECT * FROM user_table_triggers WHERE id = ?", (trigger_id,)).fetchone())

    return await db.write(write)


async def delete_trigger(db: Database, table_id: str, trigger_id: str) -> bool:
    return await db.execute("DELETE FROM user_table_triggers WHERE id = ? AND table_id = ?",
                            (trigger_id, table_id)) > 0


async def active_triggers(db: Database, table_id: str, event: str) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM user_table_triggers WHERE table_id = ? AND trigger_event = ? "
                             "AND status = 'active' ORDER BY created_at, rowid", (table_id, event))
    return [to_api(r) for r in rows]


def count_firing_in(conn: sqlite3.Connection, trigger_id: str, *, error: str | None = None) -> None:
    """One firing counted, in the caller's transaction (with the task it created)."""
    now = now_iso()
    conn.execute("UPDATE user_table_triggers SET fire_count = fire_count + 1, last_fired_at = ?, "
                 "last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?",
                 (now, error, now, trigger_id))


async def count_firing(db: Database, trigger_id: str, *, error: str | None = None) -> None:
    await db.write(lambda conn: count_firing_in(conn, trigger_id, error=error))


async def record_error(db: Database, trigger_id: str, error: str) -> None:
    await db.execute("UPDATE user_table_triggers SET last_error = ? WHERE id = ?", (error[:1000], trigger_id))


async def record_skipped(db: Database, trigger_id: str, skipped: int) -> None:
    await db.execute("UPDATE user_table_triggers SET skipped_count = skipped_count + ? WHERE id = ?",
                     (skipped, trigger_id))

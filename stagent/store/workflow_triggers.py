"""Workflow triggers: webhook tokens and the schedules of schedule-trigger nodes (SQL only).

The rules (what a node becomes, when rows are created or dropped) live in
engine/workflow_triggers.py.
"""

from __future__ import annotations

import sqlite3

from ..db import Database
from ..db.rows import new_id, now_iso, row_to_dict

_SELECT = (
    "SELECT t.*, s.name AS schedule_name, s.cron_expression, s.time_zone, s.status AS schedule_status, "
    "s.next_fire_at, s.project_id AS schedule_project_id FROM workflow_triggers t "
    "LEFT JOIN schedules s ON s.id = t.schedule_id")


async def list_for(db: Database, workflow_id: str) -> list[dict]:
    rows = await db.fetchall(_SELECT + " WHERE t.workflow_id = ? ORDER BY t.created_at, t.rowid", (workflow_id,))
    return [row_to_dict(r) for r in rows]


async def by_token_hash(db: Database, token_hash: str) -> dict | None:
    row = await db.fetchone("SELECT id, workflow_id, node_id FROM workflow_triggers WHERE token_hash = ?",
                            (token_hash,))
    return None if row is None else row_to_dict(row)


def delete_in(conn: sqlite3.Connection, trigger_ids: list[str]) -> None:
    conn.executemany("DELETE FROM workflow_triggers WHERE id = ?", [(i,) for i in trigger_ids])


def insert_in(conn: sqlite3.Connection, workflow_id: str, node_id: str, kind: str, *,
              token: str | None = None, token_hash: str | None = None, schedule_id: str | None = None) -> None:
    conn.execute(
        "INSERT INTO workflow_triggers (id, workflow_id, node_id, kind, token, token_hash, schedule_id, created_at) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (workflow_id, node_id) DO NOTHING",
        (new_id(), workflow_id, node_id, kind, token, token_hash, schedule_id, now_iso()))


def link_schedule_in(conn: sqlite3.Connection, workflow_id: str, node_id: str, schedule_id: str | None) -> None:
    """Point a schedule trigger at its schedule (a row is created on first link)."""
    insert_in(conn, workflow_id, node_id, "schedule", schedule_id=schedule_id)
    conn.execute("UPDATE workflow_triggers SET schedule_id = ? WHERE workflow_id = ? AND node_id = ?",
                 (schedule_id, workflow_id, node_id))


async def unlinked_schedules(db: Database, workflow_id: str) -> list[str]:
    """Schedules of the workflow no trigger points at (a node removed, or a crash between the
    schedule's insert and its link)."""
    rows = await db.fetchall(
        "SELECT id FROM schedules s WHERE workflow_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM workflow_triggers t WHERE t.schedule_id = s.id)", (workflow_id,))
    return [r[0] for r in rows]


async def workflows_with_triggers(db: Database) -> list[str]:
    """Every workflow that has trigger nodes, trigger rows or schedules (what start-up reconciles)."""
    rows = await db.fetchall(
        "SELECT id FROM workflows WHERE json_valid(definition) "
        "AND json_array_length(definition, '$.triggers') > 0 "
        "UNION SELECT workflow_id FROM workflow_triggers "
        "UNION SELECT workflow_id FROM schedules WHERE workflow_id IS NOT NULL")
    return [r[0] for r in rows]


def set_firing_outcome_in(conn: sqlite3.Connection, schedule_id: str, slot: str, outcome: str,
                          reason: str | None) -> None:
    """What happened when a firing tried to start its workflow (started, skipped, failed)."""
    conn.execute("UPDATE schedule_firings SET outcome = ?, reason = ? WHERE schedule_id = ? AND slot = ?",
                 (outcome, reason, schedule_id, slot))


def fail_firings_in(conn: sqlite3.Connection, outcome: str, reason: str) -> None:
    """Every firing still at `outcome` becomes failed with `reason`."""
    conn.execute("UPDATE schedule_firings SET outcome = 'failed', reason = ? WHERE outcome = ?", (reason, outcome))

"""Agent log lines (`agent_logs`) as the log bus writes and replays them.

`seq` is SQLite's AUTOINCREMENT, so it never repeats and orders lines by commit. A line for a
task that no longer exists is not stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from ..db import Database


def line_out(row) -> dict:
    return {"id": row["id"], "seq": row["seq"], "taskId": row["task_id"], "agentType": row["agent_type"],
            "event": row["event"], "payload": row["payload"], "timestamp": row["timestamp"]}


async def last_seq(db: Database) -> int:
    return await db.scalar("SELECT COALESCE(MAX(seq), 0) FROM agent_logs") or 0


def insert_line_in(conn: sqlite3.Connection, line: tuple) -> dict | None:
    """Store (id, task_id, agent_type, event, payload, timestamp); the stored line, or None when
    its task is gone (deleted while the line waited in the buffer: dropped, not retried)."""
    cur = conn.execute(
        "INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) "
        "SELECT ?,?,?,?,?,? WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM tasks WHERE id = ?2)",
        line,
    )
    if cur.rowcount != 1:
        return None
    return {"id": line[0], "seq": cur.lastrowid, "taskId": line[1], "agentType": line[2],
            "event": line[3], "payload": line[4], "timestamp": line[5]}


@contextmanager
def savepoint_in(conn: sqlite3.Connection) -> Iterator[None]:
    """A nested transaction: an exception undoes only what ran inside it, then propagates."""
    conn.execute("SAVEPOINT job")
    try:
        yield
    except Exception:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        raise
    conn.execute("RELEASE job")


async def lines_after(db: Database, after: int, *, task_id: str | None, event: str | None,
                      limit: int) -> list[dict]:
    """Up to `limit` lines with seq > after, matching the filters, oldest first."""
    sql = "SELECT seq, id, task_id, agent_type, event, payload, timestamp FROM agent_logs WHERE seq > ?"
    params: list = [after]
    if task_id is not None:
        sql += " AND task_id = ?"
        params.append(task_id)
    if event is not None:
        sql += " AND event = ?"
        params.append(event)
    sql += f" ORDER BY seq LIMIT {int(limit)}"
    return [line_out(r) for r in await db.fetchall(sql, params)]

"""The Stan heartbeat's reads of local state, and its run history (`stan_heartbeat_runs`).

The `_in` reads run on the caller's connection, so one check sees one snapshot. Checks look
at a table only when it (and the columns they need) exist.
"""

from __future__ import annotations

import sqlite3

from ..db import Database
from ..db.rows import dumps, loads, new_id

_LAST_RUN = "ORDER BY started_at DESC, rowid DESC"


def tables_in(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def columns_in(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


# ---- workflows check -----------------------------------------------------------------------------

def failed_task_titles_in(conn: sqlite3.Connection, since: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT title FROM tasks WHERE status = 'failed' AND updated_at >= ? "
                        "ORDER BY updated_at DESC", (since,)).fetchall()


def quiet_running_tasks_in(conn: sqlite3.Connection, stale: str) -> list[sqlite3.Row]:
    """(title, last_seen) of running tasks whose last log line (or update) is before `stale`."""
    return conn.execute(
        "SELECT title, last_seen FROM (SELECT t.title, COALESCE((SELECT l.timestamp FROM agent_logs l "
        "WHERE l.task_id = t.id ORDER BY l.seq DESC LIMIT 1), t.updated_at) AS last_seen "
        "FROM tasks t WHERE t.status = 'running') WHERE last_seen < ? ORDER BY last_seen", (stale,)).fetchall()


def failed_workflow_names_in(conn: sqlite3.Connection, since: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT name FROM workflows WHERE status = 'failed' AND updated_at >= ? "
                        "ORDER BY updated_at DESC", (since,)).fetchall()


def stalled_workflow_names_in(conn: sqlite3.Connection, stale: str, now: str | None) -> list[sqlite3.Row]:
    """Active workflows unchanged since `stale` with no step queued or running; with `now`
    (the table has resume_at), not those waiting to resume after it."""
    waiting = " AND (w.resume_at IS NULL OR w.resume_at <= ?)" if now is not None else ""
    params = (stale, now) if now is not None else (stale,)
    return conn.execute(
        "SELECT w.name FROM workflows w WHERE w.status = 'active' AND w.updated_at < ? AND NOT EXISTS "
        "(SELECT 1 FROM tasks t WHERE t.workflow_id = w.id AND t.status IN ('queued', 'running'))"
        + waiting, params).fetchall()


# ---- deployments check ---------------------------------------------------------------------------

def any_schedule_in(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM schedules LIMIT 1").fetchone() is not None


def overdue_schedules_in(conn: sqlite3.Connection, due_before: str) -> list[sqlite3.Row]:
    """(name, next_fire_at) of active schedules that should have fired before `due_before`."""
    return conn.execute(
        "SELECT name, next_fire_at FROM schedules WHERE status = 'active' AND next_fire_at IS NOT NULL "
        "AND next_fire_at < ? ORDER BY next_fire_at", (due_before,)).fetchall()


def failing_schedules_in(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """(name, status) of active or paused schedules whose last 3 finished firings all failed."""
    return conn.execute(
        "SELECT s.name, s.status FROM schedules s JOIN (SELECT schedule_id, COUNT(*) AS n, "
        "SUM(status = 'failed') AS failed FROM (SELECT schedule_id, status, ROW_NUMBER() OVER "
        "(PARTITION BY schedule_id ORDER BY created_at DESC, rowid DESC) AS rn FROM tasks "
        "WHERE schedule_id IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')) "
        "WHERE rn <= 3 GROUP BY schedule_id) f ON f.schedule_id = s.id "
        "WHERE s.status IN ('active', 'paused') AND f.n = 3 AND f.failed = 3 ORDER BY s.name").fetchall()


def active_schedule_count_in(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM schedules WHERE status = 'active'").fetchone()[0]


def failed_deliveries_in(conn: sqlite3.Connection, since: str, *, named: bool) -> list[sqlite3.Row]:
    """(channel, failures) per channel since `since`, most first; the channel by name when
    `named` (channel_configs has names), else by id."""
    label = "COALESCE(c.name, d.channel_id)" if named else "d.channel_id"
    join = " LEFT JOIN channel_configs c ON c.id = d.channel_id" if named else ""
    return conn.execute(
        f"SELECT {label}, COUNT(*) FROM channel_deliveries d{join} WHERE d.status = 'failed' "
        f"AND d.created_at >= ? GROUP BY d.channel_id ORDER BY 2 DESC", (since,)).fetchall()


# ---- models check ----------------------------------------------------------------------------------

def scheduled_models_in(conn: sqlite3.Connection) -> list[tuple[str | None, str | None]]:
    """The distinct (model_id, runtime id) pairs active schedules name; '' reads as None."""
    if "schedules" not in tables_in(conn):
        return []
    return [(r[0] or None, r[1] or None) for r in conn.execute(
        "SELECT DISTINCT model_id, assigned_agent FROM schedules WHERE status = 'active' "
        "AND (model_id IS NOT NULL OR assigned_agent IS NOT NULL)")]


# ---- runs ------------------------------------------------------------------------------------------

def previous_results_in(conn: sqlite3.Connection) -> list[dict]:
    """The results of the latest recorded run; [] before the first."""
    row = conn.execute(f"SELECT results FROM stan_heartbeat_runs {_LAST_RUN} LIMIT 1").fetchone()
    return loads(row[0], []) if row else []


def record_run_in(conn: sqlite3.Connection, *, started_at: str, finished_at: str, healthy: bool,
                  results: list[dict], trigger: str, keep: int) -> None:
    """Store a run and drop all but the newest `keep`."""
    conn.execute("INSERT INTO stan_heartbeat_runs (id, started_at, finished_at, healthy, results, trigger) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (new_id(), started_at, finished_at, int(healthy), dumps(results),
                                               trigger))
    conn.execute(f"DELETE FROM stan_heartbeat_runs WHERE id NOT IN (SELECT id FROM stan_heartbeat_runs "
                 f"{_LAST_RUN} LIMIT ?)", (keep,))


async def list_runs(db: Database, limit: int) -> list[dict]:
    """The last runs, newest first: {id, startedAt, finishedAt, trigger, healthy, results, issues}."""
    rows = await db.fetchall("SELECT id, started_at, finished_at, trigger, healthy, results FROM stan_heartbeat_runs "
                             f"{_LAST_RUN} LIMIT ?", (limit,))
    runs = []
    for r in rows:
        results = loads(r["results"], [])
        runs.append({"id": r["id"], "startedAt": r["started_at"], "finishedAt": r["finished_at"],
                     "trigger": r["trigger"], "healthy": bool(r["healthy"]), "results": results,
                     "issues": [x for x in results if x.get("status") != "ok"]})
    return runs

"""Read-only overviews of recent activity (tasks, schedules, workflows, spend), as the built-in
scheduled actions' tools show them to the agent: plain rows, snake_case keys, bounded lists."""

from __future__ import annotations

from ..db import Database

OVERVIEW_LIMIT = 200


async def table_exists(db: Database, name: str) -> bool:
    return bool(await db.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


async def recent_tasks(db: Database, since: str, *, status: str | None, limit: int) -> list[dict]:
    """Tasks updated since `since`, newest first, with the first 200 characters of the result."""
    sql, params = "SELECT id, title, status, source_type, substr(result, 1, 200) AS result, updated_at FROM tasks " \
                  "WHERE updated_at >= ?", [since]
    if status:
        sql += " AND status = ?"
        params.append(status)
    rows = await db.fetchall(sql + " ORDER BY updated_at DESC LIMIT ?", (*params, limit))
    return [dict(r) for r in rows]


async def schedules_overview(db: Database) -> list[dict]:
    rows = await db.fetchall(
        "SELECT id, name, type, status, cron_expression, next_fire_at, last_fired_at, firing_count, "
        f"failure_streak, last_failure_reason FROM schedules ORDER BY name LIMIT {OVERVIEW_LIMIT}")
    return [dict(r) for r in rows]


async def workflows_overview(db: Database) -> list[dict]:
    rows = await db.fetchall(
        f"SELECT id, name, status, updated_at FROM workflows ORDER BY updated_at DESC LIMIT {OVERVIEW_LIMIT}")
    return [dict(r) for r in rows]


async def spend_per_model(db: Database, since: str) -> list[dict]:
    """Calls, tokens and cost per model of the ledger rows started since `since`, costliest first."""
    rows = await db.fetchall(
        "SELECT model_id, COUNT(*) AS calls, SUM(total_tokens) AS tokens, SUM(cost_micros) AS cost_micros "
        "FROM usage_ledger WHERE started_at >= ? GROUP BY model_id ORDER BY cost_micros DESC", (since,))
    return [dict(r) for r in rows]

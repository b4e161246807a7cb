"""Spend: usage_ledger sums for the budget windows and the spend report, and the budget settings.

Every sum reads `cost_micros` of ledger rows by `finished_at` (UTC ISO strings, so a window is a
string range). A row without a runtime id is counted against the runtime its provider runs under
(`PROVIDER_RUNTIME`), so a task that names a model but no runtime still meets its runtime's cap.
"""

from __future__ import annotations

import json

from ..db import Database
from ..db.rows import dumps, loads, now_iso
from . import notifications
from .settings import set_in

POLICY_KEY = "usage.budgetPolicy"
ALERT_STATE_KEY = "usage.budgetWarningState"
PRICING_KEY = "usage.pricingRegistry"

PROVIDER_RUNTIME = {"openai": "openai-direct", "anthropic": "anthropic-direct", "ollama": "ollama"}
RUNTIME_SQL = ("COALESCE(runtime_id, CASE provider_id "
               + " ".join(f"WHEN '{p}' THEN '{r}'" for p, r in PROVIDER_RUNTIME.items()) + " END)")
FINISHED_SQL = "COALESCE(finished_at, started_at)"  # indexed as this expression (m008)

GROUPS = {
    "day": f"date({FINISHED_SQL}, 'localtime')",
    "project": "project_id",
    "runtime": RUNTIME_SQL,
    "model": "model_id",
}


async def window_spend(db: Database, month_start: str, day_start: str) -> list[dict]:
    """Month-to-date and today's spend per (runtime, project) since `month_start`."""
    rows = await db.fetchall(
        f"SELECT {RUNTIME_SQL} AS runtime, project_id, SUM(cost_micros) AS month, "
        f"SUM(CASE WHEN {FINISHED_SQL} >= ? THEN cost_micros ELSE 0 END) AS day "
        f"FROM usage_ledger WHERE {FINISHED_SQL} >= ? GROUP BY 1, 2",
        (day_start, month_start))
    return [{"runtime": r["runtime"], "project_id": r["project_id"], "month": r["month"] or 0,
             "day": r["day"] or 0} for r in rows]


async def spent_since(db: Database, start: str) -> int:
    """Micro-USD spent since `start`, in the window the budget caps use."""
    return await db.scalar(f"SELECT COALESCE(SUM(cost_micros), 0) FROM usage_ledger WHERE {FINISHED_SQL} >= ?",
                           (start,))


async def spend_by(db: Database, group_by: str, start: str, end: str) -> list[dict]:
    """Spend, tokens and call counts per day, project, runtime or model in [start, end)."""
    key = GROUPS[group_by]
    rows = await db.fetchall(
        f"SELECT {key} AS key, SUM(cost_micros) AS cost, SUM(input_tokens) AS input, "
        f"SUM(output_tokens) AS output, SUM(total_tokens) AS total, COUNT(*) AS entries, "
        f"SUM(status = 'unknown_pricing') AS unpriced "
        f"FROM usage_ledger WHERE {FINISHED_SQL} >= ? AND {FINISHED_SQL} < ? "
        f"GROUP BY 1 ORDER BY {'1' if group_by == 'day' else 'cost DESC, 1'}",
        (start, end))
    return [{"key": r["key"], "costMicros": r["cost"] or 0, "inputTokens": r["input"] or 0,
             "outputTokens": r["output"] or 0, "totalTokens": r["total"] or 0,
             "entries": r["entries"], "unknownPricingEntries": r["unpriced"] or 0} for r in rows]


async def models_used(db: Database, since: str) -> list[str]:
    rows = await db.fetchall(
        f"SELECT DISTINCT model_id FROM usage_ledger WHERE model_id IS NOT NULL AND {FINISHED_SQL} >= ?",
        (since,))
    return [r["model_id"] for r in rows]


async def project_names(db: Database, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await db.fetchall(f"SELECT id, name FROM projects WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {r["id"]: r["name"] for r in rows}


# ---- settings stored as JSON (policy, pricing overrides) -------------------------------------

async def read_json(db: Database, key: str) -> tuple[dict, str | None]:
    """(the stored object or {}, its updatedAt)."""
    row = await db.fetchone("SELECT value, updated_at FROM settings WHERE key = ?", (key,))
    if row is None:
        return {}, None
    value = loads(row["value"], {})
    return (value if isinstance(value, dict) else {}), row["updated_at"]


async def write_json(db: Database, key: str, value: dict, *, also_clear: tuple[str, ...] = ()) -> str:
    """Store `value` under `key` (and delete the `also_clear` keys) in one transaction."""
    now = now_iso()

    def write(conn):
        set_in(conn, key, dumps(value), now)
        for other in also_clear:
            conn.execute("DELETE FROM settings WHERE key = ?", (other,))

    await db.write(write)
    return now


# ---- budget_alert notifications ------------------------------------------------------------------

async def raise_alert(db: Database, *, title: str, body: str, task_id: str | None = None,
                      once: tuple[str, str] | None = None) -> str | None:
    """Insert a `budget_alert` notification; returns its id.

    `once=(state key, window key)` makes it one per window: the alert is skipped (None) when
    the state already records this window, and recorded in the same transaction otherwise.
    """
    def write(conn) -> str | None:
        if once is not None:
            raw = conn.execute("SELECT value FROM settings WHERE key = ?", (ALERT_STATE_KEY,)).fetchone()
            state = loads(raw["value"], {}) if raw else {}
            state = state if isinstance(state, dict) else {}
            state_key, window_key = once
            if state.get(state_key) == window_key:
                return None
            state[state_key] = window_key
            set_in(conn, ALERT_STATE_KEY, json.dumps(state))
        owner = task_id
        if owner is not None and conn.execute("SELECT 1 FROM tasks WHERE id = ?", (owner,)).fetchone() is None:
            owner = None  # the task was deleted mid-run; the alert still stands
        return notifications.insert(conn, type="budget_alert", title=title, body=body, task_id=owner)["id"]

    return await db.write(write)

"""Built-in actions a scheduled task can name (Stan's `action`), each a fixed prompt and tool set,
and the read-only tools they use to look at stagent's own state.

Any other `action` text is the instruction the agent runs, with the default tool set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...db.rows import to_iso
from ...store import activity as store
from ..agent.tools import ToolContext, tool


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    prompt: str
    tools: tuple[str, ...]


ACTIONS = {a.name: a for a in (
    Action("audit_workflows", "Audit workflows, tasks and schedules for failures and stuck runs",
           "Audit stagent's recent work. Use the tools to list failed and stuck tasks, workflows and "
           "schedules that keep failing. Report each problem with its id and a suggested next step, "
           "or say plainly that everything is healthy.",
           ("list_tasks", "list_workflows", "list_schedules")),
    Action("summarize_activity", "Summarize the last 24 hours of activity and spend",
           "Summarize what stagent did in the last 24 hours: tasks run and their outcomes, schedules "
           "that fired, and spend. Keep it short and factual.",
           ("list_tasks", "list_schedules", "spend_summary")),
    Action("run_heartbeat", "Run the heartbeat checks and explain the result",
           "Run the heartbeat checks with the tool and explain any issue found and what to do about it. "
           "If all checks are ok, say so in one sentence.",
           ("heartbeat_checks",)),
)}


def prompt_and_tools(action: str | None, prompt: str) -> tuple[str, list[str] | None]:
    builtin = ACTIONS.get(action or "")
    if builtin is None:
        return prompt, None
    return builtin.prompt, list(builtin.tools)


def _since(hours) -> str:
    hours = max(1, min(int(hours or 24), 24 * 90))
    return to_iso(datetime.now(UTC) - timedelta(hours=hours))


@tool("list_tasks", "List recent tasks (newest first) with status, title and result excerpt.",
      {"status": {"type": "string", "description": "planned|queued|running|completed|failed|cancelled"},
       "sinceHours": {"type": "integer", "description": "only tasks updated in the last N hours (default 24)"},
       "limit": {"type": "integer"}})
async def list_tasks(ctx: ToolContext, args: dict) -> str:
    since = _since(args.get("sinceHours"))
    status = str(args["status"]) if args.get("status") else None
    limit = max(1, min(int(args.get("limit") or 50), 200))
    rows = await store.recent_tasks(ctx.db, since, status=status, limit=limit)
    return json.dumps(rows) if rows else "No tasks in that window."


@tool("list_schedules", "List schedules with status, next and last fire time and failure streak.", {})
async def list_schedules(ctx: ToolContext, args: dict) -> str:
    rows = await store.schedules_overview(ctx.db)
    return json.dumps(rows) if rows else "No schedules."


@tool("list_workflows", "List workflows with their status.", {})
async def list_workflows(ctx: ToolContext, args: dict) -> str:
    if not await store.table_exists(ctx.db, "workflows"):
        return "No workflows yet."
    rows = await store.workflows_overview(ctx.db)
    return json.dumps(rows) if rows else "No workflows yet."


@tool("spend_summary", "Total provider spend and tokens per model over the last N hours.",
      {"sinceHours": {"type": "integer"}})
async def spend_summary(ctx: ToolContext, args: dict) -> str:
    rows = await store.spend_per_model(ctx.db, _since(args.get("sinceHours")))
    return json.dumps(rows) if rows else "No spend in that window."


@tool("heartbeat_checks", "Run the heartbeat health checks (workflows, deployments, credits) now.", {})
async def heartbeat_checks(ctx: ToolContext, args: dict) -> str:
    from .heartbeat import load_config, run_checks

    config = await load_config(ctx.db)
    return json.dumps(await run_checks(ctx.db, config["checks"], models_probe=False))

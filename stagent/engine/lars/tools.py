"""Lars's chat tools: read-only views of one workspace, and `propose_action`.

Invariant: no tool changes the user's data. `propose_action` stores a SUGGESTED action (after
the registry validated it); a person executes it. Every view is scoped to the workspace, so a
turn never sees another workspace's clients, tasks, schedules or workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...store import clients as client_store
from ...store import schedules as schedule_store
from ...store import tasks as task_store
from ...store import workflows as workflow_store
from ..agent.tools import LARS_TOOLS, ToolError, text_arg
from .actions import ACTION_TYPES, InvalidProposal, Workspace, describe_types

LIST_LIMIT = 50
SEARCH_LIMIT = 20


@dataclass
class LarsToolContext:
    lars: Any  # engine.lars.Lars
    workspace: Workspace
    conversation_id: str
    proposals: list[dict] = field(default_factory=list)  # actions stored this turn, in order
    referenced: list[dict] = field(default_factory=list)  # clients get_client returned or a proposal names

    @property
    def db(self):
        return self.lars.db


_tool = LARS_TOOLS.tool


def _brief_client(client: dict) -> dict:
    return {k: client.get(k) for k in ("id", "name", "domain", "healthScore", "status", "owner", "lastContactAt")}


def _in_workspace(rows: list[dict], ctx: LarsToolContext) -> list[dict]:
    return [r for r in rows if r.get("projectId") == ctx.workspace.project_id]


@_tool("search_clients", "Find the user's clients (accounts) by name, domain or owner.",
       {"query": {"type": "string", "description": "Part of the name, domain or owner; empty lists all"},
        "status": {"type": "string", "enum": list(client_store.STATUSES)}})
async def search_clients(ctx: LarsToolContext, args: dict) -> list[dict]:
    status = text_arg(args, "status")
    if status is not None and status not in client_store.STATUSES:
        raise ToolError(f"status must be one of {', '.join(client_store.STATUSES)}")
    clients = await client_store.list_clients(ctx.db, ctx.workspace.id, query=text_arg(args, "query"), status=status,
                                              limit=SEARCH_LIMIT)
    return [_brief_client(c) for c in clients]


@_tool("get_client", "Get one client with its notes.", {"clientId": {"type": "string"}}, ("clientId",))
async def get_client(ctx: LarsToolContext, args: dict) -> dict:
    client = await client_store.find(ctx.db, ctx.workspace.id, text_arg(args, "clientId", required=True))
    if client is None:
        raise ToolError("Client not found in this workspace")
    ctx.referenced.append(client)
    return {**_brief_client(client), "notes": client.get("notes")}


@_tool("list_at_risk_clients",
       "Clients marked at_risk, or whose health score is below the threshold (default 50); lowest score first.",
       {"threshold": {"type": "integer", "minimum": 0, "maximum": 100}})
async def list_at_risk_clients(ctx: LarsToolContext, args: dict) -> list[dict]:
    threshold = args.get("threshold", client_store.DEFAULT_AT_RISK_THRESHOLD)
    if isinstance(threshold, float) and threshold.is_integer():
        threshold = int(threshold)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold <= 100:
        raise ToolError("threshold must be an integer from 0 to 100")
    return [_brief_client(c) for c in await client_store.at_risk(ctx.db, ctx.workspace.id, threshold)]


@_tool("list_tasks", "List the workspace's tasks, most urgent first; optionally of one status.",
       {"status": {"type": "string", "enum": list(task_store.STATUSES)}})
async def list_tasks(ctx: LarsToolContext, args: dict) -> list[dict]:
    status = text_arg(args, "status")
    if status is not None and status not in task_store.STATUSES:
        raise ToolError(f"status must be one of {', '.join(task_store.STATUSES)}")
    tasks = _in_workspace(await task_store.list_tasks(ctx.db, ctx.workspace.project_id, status), ctx)
    return [{k: t.get(k) for k in ("id", "title", "status", "priority")} for t in tasks[:LIST_LIMIT]]


@_tool("list_schedules", "List the workspace's schedules.", {})
async def list_schedules(ctx: LarsToolContext, args: dict) -> list[dict]:
    schedules = _in_workspace(await schedule_store.list_schedules(ctx.db), ctx)
    return [{k: s.get(k) for k in ("id", "name", "status", "cronExpression", "nextFireAt")}
            for s in schedules[:LIST_LIMIT]]


@_tool("list_workflows", "List the workspace's workflows (RUN_WORKFLOW needs a workflowId).", {})
async def list_workflows(ctx: LarsToolContext, args: dict) -> list[dict]:
    workflows = await workflow_store.list_workflows(ctx.db, project_id=ctx.workspace.project_id)
    return [{k: w.get(k) for k in ("id", "name", "status")} for w in _in_workspace(workflows, ctx)[:LIST_LIMIT]]


@_tool("propose_action",
       "Suggest one action for the user to review and execute (it is not done now). Types and their "
       "params (? = optional):\n" + describe_types(),
       {"type": {"type": "string", "enum": list(ACTION_TYPES)},
        "title": {"type": "string", "description": "Short imperative title, e.g. 'Follow up with Acme Corp'"},
        "description": {"type": "string", "description": "Why, in one or two sentences"},
        "params": {"type": "object", "description": "The type's params, camelCase"}},
       ("type", "title", "params"))
async def propose_action(ctx: LarsToolContext, args: dict) -> dict:
    try:
        action, client = await ctx.lars.propose(ctx.workspace, ctx.conversation_id, args.get("type"),
                                                args.get("title"), args.get("description"), args.get("params"))
    except InvalidProposal as exc:
        raise ToolError(f"not proposed: {exc}") from None
    ctx.proposals.append(action)
    if client is not None:
        ctx.referenced.append(client)
    return {"actionId": action["id"], "status": action["status"], "riskLevel": action["riskLevel"],
            "note": "Suggested; the user decides whether to execute it."}

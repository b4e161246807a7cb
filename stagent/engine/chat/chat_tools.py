"""The Stagent chat tool set: real operations on local state (projects, tasks, workflows,
schedules), the context of @-mentioned entities, and the quick-access links of a reply.

Invariant: a tool changes state only through the same store and runner calls the HTTP routes
use, so what the assistant says it did is exactly what the API shows afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...db import Database
from ...errors import ApiError
from ...store import conversations as store
from ...store import projects as project_store
from ...store import schedules as schedule_store
from ...store import tasks as task_store
from ...store import workflows as workflow_store
from ..agent.tools import CHAT_TOOLS, WORKDIR_TOOLS, ToolError, ToolSet, text_arg

HREFS = {"project": "/projects/{}", "task": "/tasks/{}", "workflow": "/workflows/{}",
         "document": "/documents/{}", "schedule": "/schedules/{}", "table": "/tables/{}"}
MENTION_TEXT_LIMIT = 8000
BRIEF_LIMIT = 50  # rows a list tool returns


@dataclass
class ChatToolContext:
    db: Database
    runner: Any  # engine.runner.Runner (execute_task)
    conversation: dict
    touched: list[dict] = field(default_factory=list)  # entities the tools returned (quick access)
    # What the working-directory tools (files, search, shell; WORKDIR_TOOLS) read, as a task
    # run's ToolContext has it; a turn without a working directory is never offered them.
    working_dir: Path | None = None
    file_hashes: dict[str, str] = field(default_factory=dict)
    log: Callable[[str, dict], None] | None = None
    task: dict | None = None  # no task: file changes are not recorded under one

    def touch(self, entity_type: str, entity_id: str, label: str) -> None:
        self.touched.append({"entityType": entity_type, "entityId": entity_id, "label": label})


_tool = CHAT_TOOLS.tool
DESCRIPTION_LIMIT = 2000


def _brief_task(task: dict) -> dict:
    return {"id": task["id"], "title": task["title"], "status": task["status"],
            "projectId": task.get("projectId"), "priority": task.get("priority")}


async def _store_call(coro):
    """Store errors (not found, invalid) become tool errors the model can read and fix."""
    try:
        return await coro
    except ApiError as exc:
        raise ToolError(exc.message) from None


@_tool("list_projects", "List the projects in this stagent workspace.", {})
async def list_projects(ctx: ChatToolContext, args: dict) -> list[dict]:
    return [{"id": p["id"], "name": p["name"], "status": p["status"], "taskCount": p.get("taskCount"),
             "description": p.get("description")} for p in await project_store.list_projects(ctx.db)]


@_tool("get_project", "Get one project by id.", {"projectId": {"type": "string"}}, ("projectId",))
async def get_project(ctx: ChatToolContext, args: dict) -> dict:
    project = await _store_call(project_store.get_project(ctx.db, text_arg(args, "projectId", required=True)))
    ctx.touch("project", project["id"], project["name"])
    return project


@_tool("create_project", "Create a project.",
       {"name": {"type": "string"}, "description": {"type": "string"},
        "workingDirectory": {"type": "string", "description": "Absolute path of the project's folder"}},
       ("name",))
async def create_project(ctx: ChatToolContext, args: dict) -> dict:
    project = await project_store.create_project(ctx.db, {
        "name": text_arg(args, "name", required=True, limit=200),
        "description": text_arg(args, "description", limit=DESCRIPTION_LIMIT),
        "working_directory": text_arg(args, "workingDirectory", limit=1000)})
    ctx.touch("project", project["id"], project["name"])
    return project


@_tool("list_tasks", "List tasks, most urgent first; optionally of one project or one status.",
       {"projectId": {"type": "string"},
        "status": {"type": "string", "enum": list(task_store.STATUSES)}})
async def list_tasks(ctx: ChatToolContext, args: dict) -> list[dict]:
    status = text_arg(args, "status")
    if status is not None and status not in task_store.STATUSES:
        raise ToolError(f"status must be one of {', '.join(task_store.STATUSES)}")
    tasks = await task_store.list_tasks(ctx.db, text_arg(args, "projectId"), status)
    return [_brief_task(t) for t in tasks[:50]]


@_tool("get_task", "Get one task by id, with its result.", {"taskId": {"type": "string"}}, ("taskId",))
async def get_task(ctx: ChatToolContext, args: dict) -> dict:
    task = await _store_call(task_store.get_task(ctx.db, text_arg(args, "taskId", required=True)))
    ctx.touch("task", task["id"], task["title"])
    return task


@_tool("create_task", "Create a task (status planned). Defaults to this conversation's project.",
       {"title": {"type": "string"}, "description": {"type": "string"}, "projectId": {"type": "string"},
        "priority": {"type": "integer", "minimum": 0, "maximum": 3, "description": "0 is most urgent"}},
       ("title",))
async def create_task(ctx: ChatToolContext, args: dict) -> dict:
    priority = args.get("priority", 2)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 3:
        raise ToolError("priority must be an integer from 0 to 3")
    task = await _store_call(task_store.create_task(ctx.db, {
        "title": text_arg(args, "title", required=True, limit=200),
        "description": text_arg(args, "description", limit=DESCRIPTION_LIMIT),
        "project_id": text_arg(args, "projectId") or ctx.conversation.get("projectId"), "priority": priority}))
    ctx.touch("task", task["id"], task["title"])
    return _brief_task(task)


@_tool("execute_task", "Queue a planned task and start its agent run.", {"taskId": {"type": "string"}}, ("taskId",))
async def execute_task(ctx: ChatToolContext, args: dict) -> dict:
    task_id = text_arg(args, "taskId", required=True)
    task = await _store_call(task_store.get_task_row(ctx.db, task_id))
    if task["status"] in ("planned", "failed", "cancelled", "completed"):
        if task["status"] != "planned":
            await _store_call(ctx.runner.update(task_id, {"status": "planned"}))
        await _store_call(ctx.runner.update(task_id, {"status": "queued"}))
    await _store_call(ctx.runner.execute(task_id))
    ctx.touch("task", task_id, task["title"])
    return {"taskId": task_id, "status": "running", "message": "Execution started"}


def _brief(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "status": row["status"]}


@_tool("list_workflows", "List workflows, newest first.", {"projectId": {"type": "string"}})
async def list_workflows(ctx: ChatToolContext, args: dict) -> list[dict]:
    rows = await workflow_store.list_workflows(ctx.db, project_id=text_arg(args, "projectId"), limit=BRIEF_LIMIT)
    return [_brief(w) for w in rows]


@_tool("list_schedules", "List schedules, newest first.", {"projectId": {"type": "string"}})
async def list_schedules(ctx: ChatToolContext, args: dict) -> list[dict]:
    project_id = text_arg(args, "projectId")
    rows = await schedule_store.list_schedules(ctx.db)
    return [_brief(s) for s in rows if project_id is None or s.get("projectId") == project_id][:BRIEF_LIMIT]


# ---- the turn's tool set ---------------------------------------------------------------------

async def working_dir(db: Database, conv: dict) -> Path | None:
    """The conversation's project folder when it is an absolute path to an existing folder."""
    folder = await project_store.working_directory(db, conv["projectId"]) if conv.get("projectId") else None
    if not folder:
        return None
    path = Path(folder).expanduser()
    return path if path.is_absolute() and await asyncio.to_thread(path.is_dir) else None


async def tool_set(ctx: ChatToolContext, mcp=None, profile_servers: dict | None = None) -> ToolSet:
    """CHAT_TOOLS, plus the files, search and shell tools and the MCP servers' tools when the
    turn has a working directory (`ctx.working_dir`); they run there, under the same
    permission checks as a task run's."""
    if ctx.working_dir is None:
        return CHAT_TOOLS
    tools = ToolSet("chat", [*CHAT_TOOLS, *(t for t in WORKDIR_TOOLS if t.name not in CHAT_TOOLS)])
    if mcp is not None:
        tools = await mcp.task_tools(tools, {"profileMcpServers": profile_servers or {}}, None, ctx.log)
    return tools


# ---- mentions and quick access ---------------------------------------------------------------

async def describe_mentions(db: Database, mentions: list[dict]) -> str:
    """The context block for @-mentioned entities (unknown ones are named as such)."""
    blocks = []
    for mention in mentions[:10]:
        entity_type, entity_id = mention.get("entityType"), mention.get("entityId")
        details = await store.entity_details(db, entity_type, entity_id) if entity_type and entity_id else None
        if details is None:
            blocks.append(f"- {entity_type} {entity_id} ({mention.get('label') or 'unknown'}): not found")
            continue
        lines = [f"- {entity_type} \"{details.pop('label')}\" (id {entity_id})"]
        for key, value in details.items():
            if value not in (None, ""):
                text = str(value)
                if len(text) > MENTION_TEXT_LIMIT:
                    text = text[:MENTION_TEXT_LIMIT] + " […]"
                lines.append(f"  {key}: {text}")
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    return "The user mentioned these items; their current state:\n" + "\n".join(blocks)


def recent_entities(db: Database) -> Awaitable[list[dict]]:
    """The recent entities a reply may name; start it with the turn, so `done` does not wait."""
    return store.search_entities(db, "", 30)


async def quick_access(recent: Awaitable[list[dict]], touched: list[dict], reply_text: str) -> list[dict]:
    """Links for the entities the tools returned, plus recent ones the reply names (by label)."""
    found = list(touched)
    lowered = reply_text.lower()
    recent = await recent
    if lowered:
        for entity in recent:
            label = entity["label"] or ""
            if len(label) >= 3 and label.lower() in lowered:
                found.append(entity)
    links, seen = [], set()
    for entity in found:
        if entity["entityId"] in seen:
            continue
        seen.add(entity["entityId"])
        links.append({"entityType": entity["entityType"], "entityId": entity["entityId"],
                      "label": entity["label"], "href": HREFS[entity["entityType"]].format(entity["entityId"])})
    return links

"""Agent tools: a registry filled by the @tool decorator, and the built-in tool set.

Invariant: file tools only ever touch paths inside the project's working directory
(resolved, so `..` and symlinks cannot escape).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...db import Database
from ...store import tasks as task_store

MAX_READ_BYTES = 64 * 1024
MAX_LIST_ENTRIES = 500


class ToolError(Exception):
    """Reported back to the model as the tool's result; the run goes on."""


@dataclass
class ToolContext:
    db: Database
    task: dict
    working_dir: Path | None
    output: dict  # {"text": str | None}: update_output writes the task's result here
    allowed: frozenset[str] | None = None  # a task with a fixed tool set (built-in actions)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    run: Callable[[ToolContext, dict], Awaitable[Any]]

    def schema(self) -> dict:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


TOOLS: dict[str, Tool] = {}


def tool(name: str, description: str, properties: dict, required: tuple[str, ...] = ()):
    def register(fn):
        TOOLS[name] = Tool(name, description, {"type": "object", "properties": properties,
                                               "required": list(required)}, fn)
        return fn

    return register


def schemas(names: frozenset[str] | None = None) -> list[dict]:
    return [t.schema() for t in TOOLS.values() if names is None or t.name in names]


async def run_tool(ctx: ToolContext, name: str, raw_arguments: str) -> str:
    """Run one tool call; every failure becomes an error string for the model."""
    spec = TOOLS.get(name)
    if spec is None or (ctx.allowed is not None and name not in ctx.allowed):
        return f"error: unknown tool '{name}'"
    try:
        arguments = json.loads(raw_arguments) if raw_arguments.strip() else {}
        if not isinstance(arguments, dict):
            raise ToolError("arguments must be a JSON object")
        result = await spec.run(ctx, arguments)
    except ToolError as exc:
        return f"error: {exc}"
    except (ValueError, TypeError, OSError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result)


def confine(ctx: ToolContext, relative: str) -> Path:
    if ctx.working_dir is None:
        raise ToolError("this task's project has no working directory")
    root = ctx.working_dir.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ToolError(f"path '{relative}' is outside the working directory")
    return target


@tool("read_file", "Read a UTF-8 text file inside the project's working directory.",
      {"path": {"type": "string", "description": "Path relative to the working directory"}}, ("path",))
async def read_file(ctx: ToolContext, args: dict) -> str:
    path = confine(ctx, str(args.get("path", "")))
    if not path.is_file():
        raise ToolError(f"no such file: {args.get('path')}")
    data = path.read_bytes()[:MAX_READ_BYTES]
    return data.decode("utf-8", errors="replace")


@tool("list_files", "List files and folders inside the project's working directory.",
      {"path": {"type": "string", "description": "Folder relative to the working directory (default '.')"}})
async def list_files(ctx: ToolContext, args: dict) -> str:
    folder = confine(ctx, str(args.get("path") or "."))
    if not folder.is_dir():
        raise ToolError(f"no such folder: {args.get('path')}")
    entries = sorted(folder.iterdir())[:MAX_LIST_ENTRIES]
    return "\n".join(e.name + ("/" if e.is_dir() else "") for e in entries) or "(empty)"


@tool("create_task", "Create a follow-up task (status planned) in the same project.",
      {"title": {"type": "string"}, "description": {"type": "string"}}, ("title",))
async def create_task(ctx: ToolContext, args: dict) -> dict:
    title = str(args.get("title", "")).strip()[:200]
    if not title:
        raise ToolError("title is required")
    description = args.get("description")
    task = await ctx.db.write(lambda conn: task_store.insert_task(conn, {
        "title": title, "description": str(description)[:2000] if description else None,
        "project_id": ctx.task.get("projectId"), "parent_task_id": ctx.task["id"],
        "source_type": "manual",
    }))
    return {"taskId": task["id"], "title": task["title"], "status": task["status"]}


@tool("update_output", "Set this task's output (its result) to the given content.",
      {"content": {"type": "string"}}, ("content",))
async def update_output(ctx: ToolContext, args: dict) -> str:
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("content must be a string")
    ctx.output["text"] = content
    await task_store.set_fields(ctx.db, ctx.task["id"], result=content)
    return "output updated"

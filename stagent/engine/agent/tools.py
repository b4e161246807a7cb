"""Agent tools: the one Tool type, the named tool sets every surface offers, run_tool, the
working-directory confinement every file tool uses, and the built-in task tools that are not
files (create a follow-up task, set the task's output). The file tools live in files.py and
search.py; engine/agent/toolbox.py imports every family.

A tool is registered once (`ToolSet.tool`, or `tool(..., sets=...)` for several surfaces)
and any surface offers it by its set: TASK_TOOLS (task runs; a task's `tool_names` narrows
it), CHAT_TOOLS (Stagent chat, channel chat), WORKDIR_TOOLS (files, search, shell: part of
the task set, and added to Stagent chat in a project with a working directory), STAN_TOOLS (Stan's workflow builder) and
LARS_TOOLS (Lars). Each surface passes its own context object to the tools it runs.

Invariants: a failure a tool reports (ToolError) or trips over on bad input (ValueError,
TypeError, KeyError, OSError) becomes an `error: ...` result the model reads, and the run goes
on; tool names are unique within a set. File tools only ever touch paths inside the
project's working directory (resolved, so `..` and symlinks cannot escape), and never inside
stagent's own data folder (database, API key), even when it lies within the working directory.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...db import Database
from ...sanitize import scrub_json
from ...store import tasks as task_store


class ToolError(Exception):
    """Reported back to the model as the tool's result; the run goes on."""


@dataclass
class ToolContext:
    """What a task run's tools see (TASK_TOOLS). A chat turn's context has the same fields the
    working-directory tools read (db, task None, working_dir, log, file_hashes)."""

    db: Database
    task: dict | None
    working_dir: Path | None
    output: dict  # {"text": str | None}: update_output writes the task's result here
    log: Callable[[str, dict], None] | None = None  # appends a line (type, payload) to the task's live log
    # this run's view of its files: resolved path -> sha256 of the content the agent last read
    # or wrote (files.py refuses to change a file it has not seen, or that changed since)
    file_hashes: dict[str, str] = field(default_factory=dict)
    events: Any = None  # the app's EventBus (events.py): what a tool announces live (a handoff waiting)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON schema of the arguments object
    run: Callable[[Any, dict], Awaitable[Any]]  # run(context, arguments)

    def schema(self) -> dict:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


def define(name: str, description: str, properties: dict, required: tuple[str, ...],
           run: Callable[[Any, dict], Awaitable[Any]]) -> Tool:
    return Tool(name, description, {"type": "object", "properties": properties, "required": list(required)}, run)


class ToolSet:
    """The tools one surface offers, in registration order; names are unique within a set."""

    def __init__(self, name: str, tools: Iterable[Tool] = ()) -> None:
        self.name = name
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, tool: Tool) -> Tool:
        self._tools[tool.name] = tool
        return tool

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def tool(self, name: str, description: str, properties: dict, required: tuple[str, ...] = ()):
        """Decorator: register `async def fn(ctx, args)` as a tool of this set."""

        def register(fn):
            self.add(define(name, description, properties, required, fn))
            return fn

        return register

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def only(self, names: Iterable[str] | None) -> ToolSet:
        """This set narrowed to `names` (None: all of it)."""
        if names is None:
            return self
        wanted = set(names)
        return ToolSet(self.name, (t for t in self if t.name in wanted))

    def schemas(self) -> list[dict]:
        return [t.schema() for t in self]

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


TASK_TOOLS = ToolSet("task")
CHAT_TOOLS = ToolSet("chat")
# The tools that act in a working directory (files, search, shell): task runs always have them;
# a chat turn adds them when its conversation's project has a working directory.
WORKDIR_TOOLS = ToolSet("workdir")
WORKDIR = (TASK_TOOLS, WORKDIR_TOOLS)
STAN_TOOLS = ToolSet("stan")
LARS_TOOLS = ToolSet("lars")
TOOL_SETS = {s.name: s for s in (TASK_TOOLS, CHAT_TOOLS, WORKDIR_TOOLS, STAN_TOOLS, LARS_TOOLS)}


def tool(name: str, description: str, properties: dict, required: tuple[str, ...] = (), *,
         sets: Iterable[ToolSet] = (TASK_TOOLS,)):
    """Decorator: register one tool in each of `sets` (by default the task set)."""

    def register(fn):
        defined = define(name, description, properties, required, fn)
        for tool_set in sets:
            tool_set.add(defined)
        return fn

    return register


def schemas(names: frozenset[str] | None = None) -> list[dict]:
    """The schemas of the task tool set, narrowed to `names` (a task's fixed tool set)."""
    return TASK_TOOLS.only(names).schemas()


def parse_arguments(raw: str) -> dict | None:
    """A call's arguments as a dict ({} for none), or None when they are not a JSON object."""
    if not raw.strip():
        return {}
    try:
        arguments = scrub_json(json.loads(raw))  # an escaped lone surrogate becomes U+FFFD
    except ValueError:
        return None
    return arguments if isinstance(arguments, dict) else None


async def run_tool(tools: ToolSet, ctx: Any, name: str, arguments: dict) -> str:
    """Run one tool call; every failure becomes an error string for the model."""
    spec = tools.get(name)
    if spec is None:
        return f"error: unknown tool '{name}'"
    try:
        result = await spec.run(ctx, arguments)
    except ToolError as exc:
        return f"error: {exc}"
    except (ValueError, TypeError, KeyError, OSError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def text_arg(args: dict, key: str, *, required: bool = False, default: str | None = None,
             limit: int | None = None) -> str | None:
    """A string argument, stripped and cut to `limit`. Absent, null or "" gives `default` (or
    a ToolError when required); only whitespace gives `default` too, unless it is required."""
    value = args.get(key)
    if value is None or value == "":
        if required:
            raise ToolError(f"'{key}' is required")
        return default
    if not isinstance(value, str):
        raise ToolError(f"'{key}' must be a string")
    value = value.strip()
    if not value:
        if required:
            raise ToolError(f"'{key}' must be a non-empty string")
        return default
    return value[:limit] if limit is not None else value


# ---- the built-in task tools ----------------------------------------------------------------

def confine(ctx: ToolContext, relative: str) -> Path:
    """`relative` (or an absolute path) resolved inside the task's working directory, symlinks
    followed; a ToolError when there is none or the path leaves it."""
    if ctx.working_dir is None:
        raise ToolError("this task's project has no working directory")
    if not ctx.working_dir.is_absolute():  # stored before projects were checked: never the daemon's cwd
        raise ToolError("this task's project has a relative working directory; set an absolute folder")
    target = inside(ctx.working_dir.resolve(), relative)
    refuse_data_folder(ctx, target, relative)
    return target


def data_folder(ctx: Any) -> Path | None:
    """stagent's own data folder (its database, API key, uploads), resolved: the tools of a run
    never read, list, search, change or run commands in it, even inside a working directory."""
    path = getattr(getattr(ctx, "db", None), "path", None)
    if not path or str(path) == ":memory:":
        return None
    return Path(path).resolve().parent


def in_data_folder(ctx: Any, target: Path) -> bool:
    data = data_folder(ctx)
    return data is not None and (target == data or data in target.parents)


def refuse_data_folder(ctx: Any, target: Path, shown: str) -> None:
    if in_data_folder(ctx, target):
        raise ToolError(f"path '{shown}' is inside stagent's own data folder (its database and API key); "
                        "tools never touch it")


def inside(root: Path, relative: str) -> Path:
    """`relative` resolved under the (already resolved) `root`; a ToolError when it leaves it."""
    if "\0" in relative:
        raise ToolError("a path cannot contain a NUL character")
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ToolError(f"path '{relative}' is outside the working directory")
    return target


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

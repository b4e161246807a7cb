"""The permission pattern language, the presets, and the original's tool names mapped onto ours.

A pattern allows tool calls (docs/decisions/010-permissions.md has the whole table):

    Read                  every call of the tool; a bare name may glob: `mcp__*`
    Read(*)               the same
    Bash(command:git *)   the input field `command` starts with "git " (a trailing `*` is a prefix)
    Tool(field:value)     the field equals value
    Bash(git *)           the docs' short form: the tool's main field (Bash → command, Write → path)
    Write(src/**)         `**` matches anything; `*` before the end matches within one path segment
    WebFetch(https://x/*) `word:` followed by `//` is part of a value (a URL), not a field name

A path value (`path`, `file_path`) is normalised before it is matched (`src/a/../b` is `src/b`),
and one that climbs out of its folder (`src/../../etc/passwd` → `../etc/passwd`) matches nothing.

A name is the original's (Read, LS, Bash, ...) or stagent's own (read_file, create_task) or
`mcp__stagent__<tool>` (how the original's chat exposed its own tools); ALIASES maps the first
onto ours, field names included, so a pattern written for the original means the same here.
Pure functions only: no I/O.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Alias:
    original: str               # the original's tool name
    tool: str                   # stagent's tool it stands for
    fields: dict[str, str]      # the original's input field -> ours
    main: str | None            # our field the short form `Tool(value)` matches


# Rows whose stagent tool does not exist yet keep their meaning ready for when it does.
ALIASES: tuple[Alias, ...] = (
    Alias("Read", "read_file", {"file_path": "path"}, "path"),
    Alias("LS", "list_files", {}, "path"),
    Alias("Glob", "glob", {}, "pattern"),
    Alias("Grep", "grep", {"glob": "include"}, "pattern"),
    Alias("Write", "write_file", {"file_path": "path"}, "path"),
    Alias("Edit", "edit_file", {"file_path": "path", "old_string": "old", "new_string": "new",
                                "replace_all": "replaceAll"}, "path"),
    Alias("Bash", "run_command", {}, "command"),
    Alias("WebFetch", "web_fetch", {}, "url"),
    Alias("WebSearch", "web_search", {}, "query"),
    Alias("Handoff", "send_handoff", {}, "toProfileId"),  # the name its approval notification shows
)

# The field the short form matches for stagent's own names (`read_file(docs/*)`).
MAIN_FIELD = {"read_file": "path", "list_files": "path", "create_task": "title",
              "update_output": "content", "create_project": "name", "execute_task": "taskId",
              "grep": "pattern", "glob": "pattern", "write_file": "path", "edit_file": "path",
              "run_command": "command", "web_fetch": "url", "web_search": "query",
              "add_table_rows": "table", "update_table_row": "table",
              "send_handoff": "toProfileId"}

# Allowed without asking: they only read inside the project's folder, or set the running
# task's own result (the original auto-allows Read, Grep and Glob the same way). Everything
# else (create_task, create_project, execute_task, ...) asks unless a pattern allows it.
SAFE_TOOLS = frozenset({"read_file", "list_files", "grep", "glob", "update_output",
                        # read-only views of stagent's own state (engine/actions.py, chat_tools.py)
                        "list_tasks", "list_schedules", "list_workflows", "spend_summary", "heartbeat_checks",
                        "list_projects", "get_project", "get_task",
                        # documents: read stagent's own store; save_document writes only there
                        "read_document", "search_documents", "save_document",
                        "list_tables", "query_table",  # the user's tables, read only (agent/table_tools.py)
                        # Stan's workflow-builder tools only edit workflow drafts, and the Stan
                        # API has no way to answer a permission request
                        "create_workflow", "get_workflow", "set_active_workflow", "add_workflow_node",
                        "remove_workflow_node", "connect_nodes", "disconnect_nodes", "set_node_config",
                        "rename_workflow",
                        # Lars's tools read clients or store a suggestion a person executes (decision 015)
                        "search_clients", "get_client", "list_at_risk_clients", "propose_action"})

MCP_PREFIX = "mcp__stagent__"


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    description: str
    risk: str
    patterns: tuple[str, ...]


PRESETS: tuple[Preset, ...] = (
    Preset("read-only", "Read Only", "Safe read operations — no file mutations or shell commands", "low",
           ("Read", "Glob", "Grep", "LS", "NotebookRead")),
    Preset("git-safe", "Git Safe", "Read operations plus file editing and git commands", "medium",
           ("Read", "Glob", "Grep", "LS", "NotebookRead", "Write", "Edit", "Bash(command:git *)")),
    Preset("full-auto", "Full Auto", "All tools auto-approved — maximum agent autonomy", "high",
           ("Read", "Glob", "Grep", "LS", "NotebookRead", "Write", "Edit", "Bash", "NotebookEdit",
            "WebFetch", "WebSearch")),
)
PRESETS_BY_ID = {p.id: p for p in PRESETS}


class PatternError(ValueError):
    pass


@dataclass(frozen=True)
class Pattern:
    name: str                   # a tool name, possibly with `*`
    field: str | None = None    # Tool(field:value)
    value: str | None = None    # None: every call; with field None: the short form


MAX_PATTERN = 500
PATH_FIELDS = frozenset({"path", "file_path", "notebook_path"})
_SYNTAX = re.compile(r"^([A-Za-z0-9_.*-]+)(?:\((.*)\))?$", re.S)
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(?!//)(.*)$", re.S)  # `https://…` is a value


@lru_cache(maxsize=2048)
def parse(text: str) -> Pattern:
    match = _SYNTAX.match(text.strip())
    if not match:
        raise PatternError(f"Invalid pattern: {text!r} (expected Tool, Tool(*), Tool(field:value) or Tool(value))")
    name, spec = match.group(1), match.group(2)
    if spec is None or spec.strip() in ("", "*"):
        return Pattern(name)
    field = _FIELD.match(spec)
    if field:
        return Pattern(name, field.group(1), field.group(2))
    return Pattern(name, None, spec)


def validate(text: str) -> str:
    """The pattern as it is stored (surrounding space dropped); PatternError when it is empty,
    longer than MAX_PATTERN or not the grammar. Every way of saving a pattern checks this."""
    pattern = text.strip()
    if not pattern:
        raise PatternError("A pattern must not be empty")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"A pattern is at most {MAX_PATTERN} characters")
    parse(pattern)
    return pattern


def is_valid(text: str) -> bool:
    try:
        validate(text)
    except PatternError:
        return False
    return True


@lru_cache(maxsize=1024)
def _glob(value: str) -> re.Pattern:
    out, i = [], 0
    while i < len(value):
        if value.startswith("**", i):
            out.append(".*")
            i += 2
        elif value[i] == "*":
            out.append(".*" if i == len(value) - 1 else "[^/]*")
            i += 1
        else:
            out.append(re.escape(value[i]))
            i += 1
    return re.compile("".join(out), re.S)


def _value_matches(wanted: str, actual, *, path: bool = False) -> bool:
    if actual is None:
        return False
    text = actual if isinstance(actual, str) else json.dumps(actual)
    if path and text:
        text = posixpath.normpath(text)
        if text == ".." or text.startswith("../"):
            return False  # outside the folder the pattern names, whatever it says
    if "*" not in wanted:
        return text == wanted or _strip_dot(text) == _strip_dot(wanted)
    return bool(_glob(wanted).fullmatch(text) or _glob(wanted).fullmatch(_strip_dot(text)))


def _strip_dot(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def names_of(tool: str) -> dict[str, Alias | None]:
    """Every name a call of `tool` answers to, with the alias that maps the original's fields."""
    names: dict[str, Alias | None] = {tool: None, MCP_PREFIX + tool: None}
    for alias in ALIASES:
        if alias.tool == tool:
            names.setdefault(alias.original, alias)
    return names


def matches(pattern: str | Pattern, tool: str, args: dict) -> bool:
    try:
        p = parse(pattern) if isinstance(pattern, str) else pattern
    except PatternError:
        return False  # a malformed stored pattern allows nothing
    for name, alias in names_of(tool).items():
        if not (p.name == name or ("*" in p.name and _glob(p.name.replace("*", "**")).fullmatch(name))):
            continue
        if p.value is None:
            return True
        if p.field is not None:
            field = alias.fields.get(p.field, p.field) if alias else p.field
        else:
            field = alias.main if alias else MAIN_FIELD.get(tool)
        if field is not None and _value_matches(p.value, args.get(field), path=field in PATH_FIELDS):
            return True
    return False


def allowed_by(patterns: list[str], tool: str, args: dict) -> str | None:
    """The first pattern that allows this call, or None."""
    for pattern in patterns:
        if matches(pattern, tool, args):
            return pattern
    return None


def suggest(tool: str, args: dict) -> str:
    """The pattern "always allow" saves when the client names none: a command tool gets its
    first word (`run_command(command:git *)`), anything else the bare tool name. The caller
    checks it with `is_valid` (a tool name may not fit the grammar)."""
    field = MAIN_FIELD.get(tool)
    if tool == "run_command" and isinstance(args.get(field), str) and args[field].strip():
        return f"{tool}(command:{args[field].split()[0]} *)"
    return tool


def preset_active(preset: Preset, allow: list[str]) -> bool:
    present = set(allow)
    return all(p in present for p in preset.patterns)

"""Sync between Claude Code and Codex: preview (a dry run with a diff per file) and apply
(after an automatic pre-sync checkpoint).

What can move: an MCP server (Claude's JSON `mcpServers.<name>` <-> Codex's TOML
`[mcp_servers.<name>]`), a skill (Claude `skills/<name>/SKILL.md` <-> Codex
`prompts/<name>.md`) and instructions (CLAUDE.md <-> AGENTS.md), each in the artifact's scope.

Invariants: a sync writes only the target file its operation names (targetPath may only pick
one of the files that operation can write); TOML is edited with tomlkit, so comments and order
survive; the files get the source's real values while every preview and diff is masked; an
operation whose preview hash (`targetHash`) no longer matches the file on disk is a conflict
and is not written; the source is re-read at sync time, never taken from the (masked) scan.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from ...errors import Invalid
from ..profiles.schema import split_skill
from . import secrets
from .scanner import entry_hash, mcp_servers_of, parse_config

SYNCABLE = ("mcp-server", "skill", "instruction")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
DIFF_STORED = 2000


@dataclass
class Plan:
    """One operation, planned against the target file's content at that point."""

    request: dict
    artifact: dict
    target: Path
    error: str | None = None
    conflict: bool = False
    new_entry_hash: str | None = None
    secret_values: set[str] = field(default_factory=set)


def file_hash(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def source_of(artifact: dict, target_tool: str) -> tuple[str, Path]:
    """(source tool, file) of an artifact; a shared one syncs from the other tool's copy."""
    if artifact["tool"] != "shared":
        return artifact["tool"], Path(artifact["absPath"])
    sources = json.loads(artifact["metadata"] or "{}").get("sources") or {}
    tool = "codex" if target_tool == "claude-code" else "claude-code"
    return tool, Path(sources.get(tool, {}).get("absPath") or artifact["absPath"])


def targets(artifact: dict, target_tool: str, home: Path, project: Path | None) -> list[Path]:
    """The files an operation on this artifact may write, the default (its scope's) first."""
    name, category = artifact["name"], artifact["category"]
    bases = {"user": home, "project": project}
    order = ["user", "project"] if artifact["scope"] == "user" else ["project", "user"]
    out = []
    for scope in order:
        base = bases[scope]
        if base is None:
            continue
        if category == "mcp-server":
            out.append(base / (".codex/config.toml" if target_tool == "codex"
                               else ".claude/.mcp.json" if scope == "user" else ".mcp.json"))
        elif category == "skill":
            out.append(base / (f".codex/prompts/{name}.md" if target_tool == "codex"
                               else f".claude/skills/{name}/SKILL.md"))
        elif category == "instruction":
            if scope == "user":
                out.append(home / (".codex/AGENTS.md" if target_tool == "codex" else ".claude/CLAUDE.md"))
            else:
                out.append(base / ("AGENTS.md" if target_tool == "codex" else "CLAUDE.md"))
    return out


def check_request(request: dict, artifact: dict, home: Path, project: Path | None) -> Path:
    """400 for an operation that cannot be done; else the target file."""
    category, tool = artifact["category"], request["target_tool"]
    if category not in SYNCABLE:
        raise Invalid(f"operations: {category} artifacts cannot be synced (only {', '.join(SYNCABLE)})")
    if artifact["tool"] == tool:
        raise Invalid(f"operations: {artifact['name']} is already a {tool} artifact")
    if not SAFE_NAME.match(artifact["name"]):
        raise Invalid(f"operations: {artifact['name']!r} is not a name that can become a file or a key")
    allowed = targets(artifact, tool, home, project)
    if request.get("target_path"):
        wanted = Path(request["target_path"]).expanduser()
        wanted = wanted if wanted.is_absolute() else home / wanted
        if wanted not in allowed:
            raise Invalid(f"targetPath must be one of: {', '.join(map(str, allowed))}")
        return wanted
    return allowed[0]


# ---- building the new content ---------------------------------------------------------------

def _mcp_entry(source_tool: str, path: Path, name: str) -> dict:
    data = parse_config(path, (_read(path) or b"").decode("utf-8", "replace"))
    entry = mcp_servers_of(source_tool, data).get(name)
    if entry is None:
        raise LookupError(f"MCP server {name} is no longer in {path}")
    return entry


def _for_codex(entry: dict) -> dict:
    out = {k: entry[k] for k in ("command", "args", "url", "cwd", "env") if entry.get(k) not in (None, [], {})}
    if entry.get("headers"):
        out["http_headers"] = entry["headers"]
    return out


def _for_claude(entry: dict) -> dict:
    out = {k: entry[k] for k in ("command", "args", "url", "cwd", "env") if entry.get(k) not in (None, [], {})}
    if entry.get("url") and not entry.get("command"):
        out = {"type": "http", **out}
    if entry.get("http_headers"):
        out["headers"] = entry["http_headers"]
    return out


def _edit_toml(text: str, name: str, entry: dict | None) -> str:
    doc = tomlkit.parse(text)
    servers = doc.get("mcp_servers")
    if servers is not None and not isinstance(servers, dict):
        raise ValueError("mcp_servers in the target is not a table")
    if servers is not None and name in servers and not isinstance(servers[name], dict):
        raise ValueError(f"mcp_servers.{name} in the target is not a table")
    if entry is None:
        if servers is not None and name in servers:
            del servers[name]
        return tomlkit.dumps(doc)
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        doc.add("mcp_servers", servers)
    current = servers.get(name)
    if current is None:
        table = tomlkit.table()
        for key, value in entry.items():
            table.add(key, _toml_value(value))
        servers.add(name, table)
    else:  # in place: the entry's own comments and key order stay
        for key in [k for k in current if k not in entry]:
            del current[key]
        for key, value in entry.items():
            if current.get(key) != value:
                current[key] = _toml_value(value)
    out = tomlkit.dumps(doc)
    return out if out.endswith("\n") else out + "\n"


def _toml_value(value):
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update(value)
        return table
    return value


def _edit_json(text: str, name: str, entry: dict | None) -> str:
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the file is not a JSON object")
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ValueError("mcpServers in the target is not an object")
    if entry is None:
        servers.pop(name, None)
    else:
        servers[name] = entry
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _skill_text(source_tool: str, path: Path, name: str, target_tool: str) -> str:
    text = (_read(path) or b"").decode("utf-8")
    if not text and not path.is_file():
        raise LookupError(f"{path} no longer exists")
    meta, body = split_skill(text)
    description = str(meta.get("description") or "").replace("\n", " ").strip()
    if target_tool == "codex":
        head = f"---\ndescription: {json.dumps(description)}\n---\n\n" if description else ""
    else:
        head = f"---\nname: {name}\ndescription: {json.dumps(description or name)}\n---\n\n"
    return head + body.lstrip("\n")


def build(plan: Plan, current: bytes | None) -> bytes | None:
    """The target's new content (None: the file goes) given its current content; sets the
    plan's conflict flag when the target already holds a different version of the entry."""
    request, artifact = plan.request, plan.artifact
    tool, name, delete = request["target_tool"], artifact["name"], request["operation"] == "delete"
    text = (current or b"").decode("utf-8")
    source_tool, source = source_of(artifact, tool)
    if artifact["category"] == "mcp-server":
        entry = None
        if not delete:
            real = _mcp_entry(source_tool, source, name)
            plan.secret_values |= secrets.secret_values(real)
            entry = _for_codex(real) if tool == "codex" else _for_claude(real)
            plan.new_entry_hash = entry_hash(real)
        existing = mcp_servers_of(tool, parse_config(plan.target, text)).get(name)
        plan.conflict = existing is not None and not delete and entry_hash(existing) != plan.new_entry_hash
        edited = (_edit_toml if tool == "codex" else _edit_json)(text, name, entry)
        return edited.encode()
    if delete:
        return None
    if artifact["category"] == "skill":
        new = _skill_text(source_tool, source, name, tool).encode()
    else:
        new = _read(source)
        if new is None:
            raise LookupError(f"{source} no longer exists")
    plan.conflict = current is not None and current != new
    return new


def unified(old: bytes | None, new: bytes | None, path: Path, found: set[str]) -> dict:
    """The masked unified diff of one file, with its counts."""
    before = secrets.mask_text((old or b"").decode("utf-8", "replace"), found).splitlines(keepends=True)
    after = secrets.mask_text((new or b"").decode("utf-8", "replace"), found).splitlines(keepends=True)
    lines = list(difflib.unified_diff(before, after, f"a/{path.name}" if old is not None else "/dev/null",
                                      f"b/{path.name}" if new is not None else "/dev/null"))
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return {"diff": text, "additions": sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++")),
            "deletions": sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---")),
            "identical": old == new, "isNew": old is None and new is not None}


def plan_all(plans: list[Plan]) -> tuple[list[dict], dict[Path, bytes | None]]:
    """Blocking: each plan's preview against the content the operations before it leave, and
    the final content of every target file (operations on one file compose in order)."""
    contents: dict[Path, bytes | None] = {}
    originals: dict[Path, bytes | None] = {}
    previews = []
    for plan in plans:
        if plan.target not in contents:
            originals[plan.target] = contents[plan.target] = _read(plan.target)
        old = contents[plan.target]
        found = secrets.secret_values(parse_config(plan.target, (old or b"").decode("utf-8", "replace")))
        try:
            new = build(plan, old)
            found |= plan.secret_values
            contents[plan.target] = new
            diff = unified(old, new, plan.target, found)
        except (LookupError, ValueError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
            plan.error = str(exc)
            new, diff = old, unified(old, old, plan.target, found)
        previews.append({
            "artifactId": plan.artifact["id"], "artifactName": plan.artifact["name"],
            "category": plan.artifact["category"], "operation": plan.request["operation"],
            "targetTool": plan.request["target_tool"], "targetPath": str(plan.target), "diff": diff,
            "hasConflict": plan.conflict, **({"error": plan.error} if plan.error else {}),
            "syncOp": {"targetPath": str(plan.target), "isNew": originals[plan.target] is None,
                       "targetHash": file_hash(originals[plan.target]), "contentHash": file_hash(new)}})
    return previews, contents


def summary(previews: list[dict]) -> dict:
    return {"total": len(previews), "conflicts": sum(p["hasConflict"] for p in previews),
            "newFiles": sum(p["diff"]["isNew"] for p in previews),
            "totalAdditions": sum(p["diff"]["additions"] for p in previews),
            "totalDeletions": sum(p["diff"]["deletions"] for p in previews)}


def write_files(contents: dict[Path, bytes | None]) -> dict[Path, str | None]:
    """Blocking: write each file atomically (mode kept), or remove it; {path: error or None}."""
    errors: dict[Path, str | None] = {}
    for path, data in contents.items():
        try:
            if data is None:
                if path.exists():
                    path.unlink()
            elif _read(path) != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
                tmp = path.with_name(f".{path.name}.stagent-sync")
                tmp.write_bytes(data)
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            errors[path] = None
        except OSError as exc:
            errors[path] = exc.strerror or str(exc)
    return errors


def stored_diff(preview: dict) -> str:
    return preview["diff"]["diff"][:DIFF_STORED]

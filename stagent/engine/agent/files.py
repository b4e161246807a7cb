"""The file tools of a task's agent: read_file, write_file, edit_file and list_files, inside
the project's working directory (glob and grep are in search.py).

Invariants:
- every path is resolved with symlinks followed and refused when it leaves the working
  directory (tools.confine): `..`, an absolute path elsewhere, a symlink pointing out;
- a run changes an existing file only if it read (or wrote) that file earlier in the same run
  and the file has not changed since: `ctx.file_hashes` keeps the sha256 of the content the
  agent last saw, per resolved path (as Claude Code's Read-before-Edit/Write rule);
- edit_file replaces exact text only: refused when `old` is missing, or found more than once
  without `replaceAll`; nothing is written on a refusal;
- every write is recorded by changes.record (before/after hash, diff, before-content), so the
  task's changes can be listed and reverted;
- text is UTF-8; a file with a NUL byte in its first 8 KiB is binary and is never shown or edited.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from . import changes
from .tools import WORKDIR, ToolContext, ToolError, confine, data_folder, text_arg, tool

MAX_FILE_BYTES = 10 * 1024 * 1024   # read_file and edit_file refuse larger files; write_file larger content
MAX_READ_CHARS = 64 * 1024          # one read_file answer; longer ones are cut at a line and say how to go on
DEFAULT_READ_LINES = 2000
MAX_LIST_ENTRIES = 500
BINARY_SNIFF = 8192

PATH = {"type": "string", "description": "Path relative to the working directory"}


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_SNIFF]


def int_arg(args: dict, key: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    value = args.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"'{key}' must be an integer")
    if value < minimum:
        raise ToolError(f"'{key}' must be at least {minimum}")
    return value if maximum is None else min(value, maximum)


def bool_arg(args: dict, key: str) -> bool:
    value = args.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ToolError(f"'{key}' must be true or false")


def string_arg(args: dict, key: str, *, required: bool = True) -> str:
    """A string argument taken exactly as sent (no stripping: whitespace matters in file text)."""
    value = args.get(key)
    if value is None:
        if required:
            raise ToolError(f"'{key}' is required")
        return ""
    if not isinstance(value, str):
        raise ToolError(f"'{key}' must be a string")
    return value


def _read(path: Path, rel: str) -> bytes:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ToolError(f"{rel} is {size:,} bytes, over the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit; "
                        "search it with grep instead")
    return path.read_bytes()


def _existing_file(ctx: ToolContext, rel: str) -> Path:
    path = confine(ctx, rel)
    if path.is_dir():
        raise ToolError(f"{rel} is a folder; use list_files or glob")
    if not path.is_file():
        raise ToolError(f"no such file: {rel}")
    return path


def _check_fresh(ctx: ToolContext, path: Path, rel: str, current: bytes) -> None:
    """Refuse to change a file this run has not read, or that changed since it did."""
    seen = ctx.file_hashes.get(str(path))
    if seen is None:
        raise ToolError(f"read {rel} with read_file before changing it")
    if seen != changes.digest(current):
        raise ToolError(f"{rel} changed since you last read it; read it again before changing it")


def _split_lines(text: str) -> list[str]:
    """Lines with their `\\n` (the last one may have none); only `\\n` ends a line, as in grep."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@tool("read_file",
      "Read a UTF-8 text file inside the project's working directory. Returns the text as it is "
      "(no line numbers). Long files come in pieces: `offset` is the first line (1-based), `limit` "
      f"the number of lines (default {DEFAULT_READ_LINES}); a cut answer ends with a note saying how "
      "to read on. Binary files and files over 10 MiB are refused.",
      {"path": PATH,
       "offset": {"type": "integer", "description": "First line to return, 1-based (default 1)"},
       "limit": {"type": "integer", "description": f"How many lines to return (default {DEFAULT_READ_LINES})"}},
      ("path",), sets=WORKDIR)
async def read_file(ctx: ToolContext, args: dict) -> str:
    rel = text_arg(args, "path", required=True)
    offset = int_arg(args, "offset", 1)
    limit = int_arg(args, "limit", DEFAULT_READ_LINES)
    path = _existing_file(ctx, rel)
    data = await asyncio.to_thread(_read, path, rel)
    ctx.file_hashes[str(path)] = changes.digest(data)  # what the agent saw, even if it is not shown
    if is_binary(data):
        raise ToolError(f"{rel} is a binary file ({len(data):,} bytes); read_file shows text only")
    text = data.decode("utf-8", errors="replace")
    if not text:
        return "(empty file)"
    ranged = args.get("offset") not in (None, "") or args.get("limit") not in (None, "")
    lines = _split_lines(text)
    if not ranged and len(lines) <= limit and len(text) <= MAX_READ_CHARS:
        return text
    if offset > len(lines):
        raise ToolError(f"offset {offset} is past the end of {rel} ({len(lines)} lines)")
    shown, size, cut = [], 0, False
    for line in lines[offset - 1:offset - 1 + limit]:
        if size + len(line) > MAX_READ_CHARS:
            if not shown:  # one enormous line: its start
                shown.append(line[:MAX_READ_CHARS] + "\n")
                cut = True
            break
        shown.append(line)
        size += len(line)
    last = offset - 1 + len(shown)
    body = "".join(shown)
    if offset == 1 and last == len(lines) and not cut:
        return body
    if cut:
        note = f"[line {offset} cut after {MAX_READ_CHARS:,} characters; it is longer than read_file shows]"
    else:
        note = f"[lines {offset}-{last} of {len(lines)}" + (f"; read on with offset={last + 1}]" if last < len(lines) else "]")
    return body + ("" if body.endswith("\n") else "\n") + note


@tool("write_file",
      "Write a UTF-8 text file inside the project's working directory, replacing all of its content "
      "(missing folders are created). To change an existing file, read it with read_file first; prefer "
      "edit_file for changes to part of a file.",
      {"path": PATH, "content": {"type": "string", "description": "The file's whole new content"}},
      ("path", "content"), sets=WORKDIR)
async def write_file(ctx: ToolContext, args: dict) -> str:
    rel = text_arg(args, "path", required=True)
    content = string_arg(args, "content")
    data = content.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"content is {len(data):,} bytes, over the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit")
    path = confine(ctx, rel)
    if path.is_dir():
        raise ToolError(f"{rel} is a folder")
    before = None
    if path.exists():
        before = await asyncio.to_thread(_read, path, rel)
        _check_fresh(ctx, path, rel, before)
        if before == data:
            return f"{rel} already has this content; nothing changed"
    await asyncio.to_thread(_write, path, data)
    ctx.file_hashes[str(path)] = changes.digest(data)
    await changes.record(ctx, path, before, data)
    lines = len(_split_lines(content))
    return f"{'created' if before is None else 'wrote'} {rel} ({lines} line{'s' if lines != 1 else ''}, {len(data):,} bytes)"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@tool("edit_file",
      "Replace exact text in a file inside the project's working directory. `old` must match the file "
      "exactly (whitespace and indentation included) and occur exactly once, unless `replaceAll` is true; "
      "include enough surrounding lines to make it unique. Read the file with read_file first.",
      {"path": PATH,
       "old": {"type": "string", "description": "The exact text to replace"},
       "new": {"type": "string", "description": "The text to put in its place"},
       "replaceAll": {"type": "boolean", "description": "Replace every occurrence of old (default false)"}},
      ("path", "old", "new"), sets=WORKDIR)
async def edit_file(ctx: ToolContext, args: dict) -> str:
    rel = text_arg(args, "path", required=True)
    old, new = string_arg(args, "old"), string_arg(args, "new")
    replace_all = bool_arg(args, "replaceAll")
    if not old:
        raise ToolError("'old' must not be empty; use write_file to create or replace a whole file")
    if old == new:
        raise ToolError("'old' and 'new' are the same; nothing to change")
    path = _existing_file(ctx, rel)
    before = await asyncio.to_thread(_read, path, rel)
    _check_fresh(ctx, path, rel, before)
    if is_binary(before):
        raise ToolError(f"{rel} is a binary file; edit_file changes text only")
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{rel} is not UTF-8 text; edit_file would corrupt it") from None
    count = text.count(old)
    if count == 0 and "\r\n" in text and "\n" in old and "\r\n" not in old:
        # a model writes "\n"; the file ends its lines with "\r\n"
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
        count = text.count(old)
    if count == 0:
        raise ToolError(f"old text not found in {rel}; it must match the file exactly, whitespace included "
                        "(read the file again if unsure)")
    if count > 1 and not replace_all:
        raise ToolError(f"old text occurs {count} times in {rel}; include more surrounding lines to make it "
                        "unique, or set replaceAll to replace every occurrence")
    line = text.count("\n", 0, text.index(old)) + 1
    after_text = text.replace(old, new) if replace_all else text.replace(old, new, 1)
    data = after_text.encode("utf-8")
    await asyncio.to_thread(path.write_bytes, data)
    ctx.file_hashes[str(path)] = changes.digest(data)
    await changes.record(ctx, path, before, data)
    replaced = count if replace_all else 1
    return f"edited {rel}: replaced {replaced} occurrence{'s' if replaced != 1 else ''} (first at line {line})"


@tool("list_files", "List files and folders inside the project's working directory (folders end with '/').",
      {"path": {"type": "string", "description": "Folder relative to the working directory (default '.')"}},
      sets=WORKDIR)
async def list_files(ctx: ToolContext, args: dict) -> str:
    rel = text_arg(args, "path", default=".")
    folder = confine(ctx, rel)
    if not folder.is_dir():
        raise ToolError(f"no such folder: {rel}")
    data = data_folder(ctx)
    entries = [e for e in sorted(folder.iterdir()) if e != data]  # not even the data folder's name
    shown = "\n".join(e.name + ("/" if e.is_dir() else "") for e in entries[:MAX_LIST_ENTRIES])
    if len(entries) > MAX_LIST_ENTRIES:
        shown += f"\n({len(entries) - MAX_LIST_ENTRIES} more entries)"
    return shown or "(empty)"

"""The search tools of a task's agent: glob (files by name) and grep (file contents by
regex), over the project's working directory as filewalk.walk sees it.

Invariants: a search reads only regular files inside the working directory (no symlinks, no
`.git`, nothing in stagent's own data folder, nothing a .gitignore ignores, no binary file, no file over files.MAX_FILE_BYTES); its
answer is capped (`limit`) and says how much more there was; the walk runs in a worker thread,
so a search never blocks the daemon's event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

from . import filewalk
from .files import MAX_FILE_BYTES, bool_arg, int_arg, is_binary
from .tools import WORKDIR, ToolContext, ToolError, confine, data_folder, text_arg, tool

DEFAULT_MATCHES = 200
MAX_MATCHES = 2000
DEFAULT_FILES = 500
MAX_LINE_CHARS = 500
FIRST_READ = 64 * 1024

GLOBS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def _globs(args: dict, key: str) -> list[str]:
    """A glob list from a string (`*.py`, `*.py,*.md`, `*.{ts,tsx}`) or an array of strings."""
    value = args.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts, depth, current = [], 0, ""
        for ch in value:  # split on commas outside braces
            depth += ch == "{"
            depth -= ch == "}"
            if ch == "," and depth <= 0:
                parts.append(current)
                current = ""
            else:
                current += ch
        parts.append(current)
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ToolError(f"'{key}' must be a glob or a list of globs")


def _start(ctx: ToolContext, args: dict) -> tuple[Path, Path, frozenset[str]]:
    """(resolved working directory, resolved start path, folders a search never enters: stagent's
    data folder) for a search."""
    target = confine(ctx, text_arg(args, "path", default="."))
    if not target.exists():
        raise ToolError(f"no such file or folder: {args.get('path')}")
    data = data_folder(ctx)
    return ctx.working_dir.resolve(), target, frozenset({str(data)} if data is not None else ())


def _files(root: Path, target: Path, skip: frozenset[str]) -> Iterator[tuple[str, str]]:
    if target.is_file():
        yield target.relative_to(root).as_posix(), str(target)
    else:
        rel = "" if target == root else target.relative_to(root).as_posix()
        yield from filewalk.walk(str(root), rel, skip=skip)


def _more(count: int, noun: str, nouns: str) -> str:
    return f"\n({count:,} more {noun if count == 1 else nouns})" if count else ""


@tool("glob",
      "Find files by name in the project's working directory. `pattern` is a glob over paths relative "
      "to `path`: `*` and `?` stay within one folder, `**/` spans folders, `{a,b}` is either "
      "(`**/*.py`, `src/**/*.{ts,tsx}`, `*.md`). Skips .git and what .gitignore ignores.",
      {"pattern": {"type": "string", "description": "Glob, e.g. **/*.py"},
       "path": {"type": "string", "description": "Folder to search in, relative to the working directory (default '.')"},
       "limit": {"type": "integer", "description": f"At most this many paths (default {DEFAULT_FILES})"}},
      ("pattern",), sets=WORKDIR)
async def glob(ctx: ToolContext, args: dict) -> str:
    pattern = text_arg(args, "pattern", required=True)
    limit = int_arg(args, "limit", DEFAULT_FILES, maximum=MAX_MATCHES * 5)
    root, target, skip = _start(ctx, args)
    if not target.is_dir():
        raise ToolError(f"not a folder: {args.get('path')}")
    try:
        regex = re.compile(filewalk.glob_regex(pattern.lstrip("/").removeprefix("./")), re.S)
    except re.error as exc:
        raise ToolError(f"invalid glob: {exc}") from None
    base = "" if target == root else target.relative_to(root).as_posix() + "/"

    def run() -> tuple[list[str], int]:
        found, extra = [], 0
        for rel, _ in _files(root, target, skip):
            if regex.fullmatch(rel[len(base):]):
                if len(found) < limit:
                    found.append(rel)
                else:
                    extra += 1
        return found, extra

    found, extra = await asyncio.to_thread(run)
    return ("\n".join(found) + _more(extra, "file", "files")) if found else f"No files match {pattern}"


def _compile(pattern: str, ignore_case: bool) -> re.Pattern:
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    try:
        if pattern.isascii():  # bytes: no decoding of files without a match (most of them)
            return re.compile(pattern.encode(), flags)
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ToolError(f"invalid regex: {exc}") from None


def _read_small(path: str) -> bytes | None:
    """The file's bytes, or None when it is over MAX_FILE_BYTES or unreadable. Plain os calls,
    one read for a file under FIRST_READ (most source files): io.open's buffer objects, an fstat
    per file or a read(limit)'s 10 MiB allocation would each cost more than grep spends."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, FIRST_READ)
        if len(data) < FIRST_READ:
            return data
        size = os.fstat(fd).st_size
        if size > MAX_FILE_BYTES:
            return None
        chunks = [data]
        total = len(data)
        while total <= MAX_FILE_BYTES:
            more = os.read(fd, max(size - total + 1, 65536))
            if not more:
                return b"".join(chunks)
            chunks.append(more)
            total += len(more)
        return None  # it grew past the limit while being read
    except OSError:
        return None
    finally:
        os.close(fd)


def _grep(root: Path, target: Path, regex: re.Pattern, wanted: filewalk.PathFilter, limit: int,
          files_only: bool, skip: frozenset[str] = frozenset()) -> tuple[list[str], int]:
    """(lines `path:line:text`, or paths with files_only, up to limit; how many more there were)."""
    as_text = isinstance(regex.pattern, str)
    out: list[str] = []
    extra = 0
    search = regex.search
    for rel, path in _files(root, target, skip):
        if not wanted.wants(rel, rel.rpartition("/")[2]):
            continue
        data = _read_small(path)
        if data is None or is_binary(data):
            continue
        haystack = data.decode("utf-8", errors="replace") if as_text else data
        match = search(haystack)
        if match is None:
            continue
        if files_only:
            if len(out) < limit:
                out.append(rel)
            else:
                extra += 1
            continue
        newline = "\n" if as_text else b"\n"
        line_no, counted_to = 1, 0
        while match is not None and match.start() < len(haystack):  # one hit per line
            start = haystack.rfind(newline, 0, match.start()) + 1
            end = haystack.find(newline, match.start())
            end = len(haystack) if end < 0 else end
            if len(out) < limit:
                line_no += haystack.count(newline, counted_to, start)
                counted_to = start
                text = haystack[start:end]
                text = (text if as_text else text.decode("utf-8", errors="replace")).rstrip("\r")
                if len(text) > MAX_LINE_CHARS:
                    text = text[:MAX_LINE_CHARS] + "…"
                out.append(f"{rel}:{line_no}:{text}")
            else:
                extra += 1
            if end >= len(haystack):
                break
            match = search(haystack, end + 1)
    return out, extra


@tool("grep",
      "Search file contents in the project's working directory with a regular expression (Python "
      "syntax). Answers `path:line:text` lines, or only paths with filesOnly. Skips .git, what "
      ".gitignore ignores, symlinks and binary files. `include`/`exclude` are globs (a glob without a "
      "'/' matches file names: `*.py`, `*.{ts,tsx}`).",
      {"pattern": {"type": "string", "description": "Regular expression"},
       "path": {"type": "string", "description": "File or folder to search, relative to the working directory (default '.')"},
       "include": {**GLOBS, "description": "Only files matching these globs"},
       "exclude": {**GLOBS, "description": "Skip files matching these globs"},
       "ignoreCase": {"type": "boolean", "description": "Case-insensitive (default false)"},
       "filesOnly": {"type": "boolean", "description": "List the matching files instead of lines (default false)"},
       "limit": {"type": "integer", "description": f"At most this many results (default {DEFAULT_MATCHES})"}},
      ("pattern",), sets=WORKDIR)
async def grep(ctx: ToolContext, args: dict) -> str:
    pattern = args.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ToolError("'pattern' is required")
    regex = _compile(pattern, bool_arg(args, "ignoreCase"))
    files_only = bool_arg(args, "filesOnly")
    limit = int_arg(args, "limit", DEFAULT_MATCHES, maximum=MAX_MATCHES)
    wanted = filewalk.PathFilter(_globs(args, "include"), _globs(args, "exclude"))
    root, target, skip = _start(ctx, args)
    out, extra = await asyncio.to_thread(_grep, root, target, regex, wanted, limit, files_only, skip)
    if not out:
        return "No matches"
    return "\n".join(out) + (_more(extra, "file", "files") if files_only else _more(extra, "match", "matches"))

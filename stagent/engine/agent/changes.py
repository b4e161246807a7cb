"""Change tracking for the file tools: every write_file/edit_file of a task run is recorded
(store/file_changes.py) and announced as a `file_change` log line; a revert puts the files back.

Owns: the content hash (sha256 hex), the unified diff shown to people, `record` and `revert`.

Invariants:
- a change is recorded only after its file was written, with the exact bytes before (NULL for
  a file the run created) and the hash of the bytes after;
- a revert writes a file only when its current content is exactly what the run left (the hash
  of its last change), so nothing a person or another run changed afterwards is overwritten;
  it restores the content before the oldest unreverted change of each file, deletes a file the
  run created, and marks those changes reverted; every other file is reported as skipped;
- a revert writes only inside the folder the change was made in (resolved again, symlinks
  followed), never through a path that now leads elsewhere.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
from pathlib import Path

from ...db import Database
from ...store import file_changes as store
from .tools import ToolContext, ToolError, inside

MAX_DIFF_CHARS = 100_000  # stored and served by /changes
MAX_LOG_DIFF_CHARS = 8_000  # in the live log line
MAX_DIFF_INPUT = 2 * 1024 * 1024  # bytes per side; larger files get a one-line summary, not a diff
NO_NEWLINE = "\\ No newline at end of file\n"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n" + NO_NEWLINE  # as git shows it; equal on both sides when both lack it
    return lines


def unified_diff(path: str, before: bytes | None, after: bytes) -> str:
    """A git-style unified diff of one file (capped at MAX_DIFF_CHARS)."""
    if (before is not None and b"\0" in before[:8192]) or b"\0" in after[:8192]:
        return f"Binary file {path} changed\n"
    if (before is not None and len(before) > MAX_DIFF_INPUT) or len(after) > MAX_DIFF_INPUT:
        return f"{path}: {len(before or b'')} → {len(after)} bytes (too large to diff)\n"
    diff = "".join(difflib.unified_diff(_lines(before) if before is not None else [], _lines(after),
                                        "/dev/null" if before is None else f"a/{path}", f"b/{path}"))
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS].rsplit("\n", 1)[0] + "\n… (diff truncated)\n"
    return diff


async def record(ctx: ToolContext, target: Path, before: bytes | None, after: bytes) -> dict:
    """Store the change the run just made to `target` and log it; returns the log payload."""
    root = ctx.working_dir.resolve()
    path = target.relative_to(root).as_posix()
    diff = await asyncio.to_thread(unified_diff, path, before, after)
    before_hash = digest(before) if before is not None else None
    change_id = None
    if ctx.task is not None:  # a chat turn's changes have no task to list or revert them under
        row = await store.insert_change(ctx.db, task_id=ctx.task["id"], root=str(root), path=path,
                                        before_content=before, before_hash=before_hash,
                                        after_hash=digest(after), diff=diff)
        change_id = row["id"]
    payload = {"changeId": change_id, "path": path, "beforeHash": before_hash, "afterHash": digest(after),
               "created": before is None, "diff": diff[:MAX_LOG_DIFF_CHARS],
               "diffTruncated": len(diff) > MAX_LOG_DIFF_CHARS}
    if ctx.log is not None:
        ctx.log("file_change", payload)
    return payload


def _restore(root: str, path: str, before: bytes | None, before_hash: str | None, after_hash: str) -> str | None:
    """Put one file back; None when done, else why it was skipped."""
    try:
        target = inside(Path(root).resolve(), path)
    except ToolError:
        return "outside the working directory"
    if target.exists() and not target.is_file():
        return "no longer a file"
    current = digest(target.read_bytes()) if target.is_file() else None
    if current == before_hash:
        return None  # already as it was before the run
    if current != after_hash:
        return "deleted since the run" if current is None else "changed since the run"
    if before is None:
        target.unlink()
    else:
        target.write_bytes(before)
    return None


async def revert(db: Database, task_id: str) -> dict:
    """Undo the task's unreverted changes: {reverted: [path], skipped: [{path, reason}]}."""
    files: dict[tuple[str, str], list[dict]] = {}
    for change in await store.unreverted(db, task_id):
        files.setdefault((change["root"], change["path"]), []).append(change)
    reverted, skipped, done = [], [], []
    for (root, path), changes in files.items():
        first, last = changes[0], changes[-1]
        try:
            reason = await asyncio.to_thread(_restore, root, path, first["before_content"], first["before_hash"],
                                             last["after_hash"])
        except OSError as exc:
            reason = f"could not be written: {exc.strerror or exc}"
        if reason is None:
            reverted.append(path)
            done.extend(c["id"] for c in changes)
        else:
            skipped.append({"path": path, "reason": reason})
    await store.mark_reverted(db, done)
    return {"reverted": reverted, "skipped": skipped}

"""file_changes rows: what a task run's write_file/edit_file did to each file (m013).

A row keeps the working directory it was made in (`root`), the path below it, the content
before (NULL: the run created the file), both hashes and the diff; `reverted_at` is set once
a revert restored it.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import new_id, now_iso

_PUBLIC = "id, path, before_hash, after_hash, diff, created_at, reverted_at"


def _insert_in(conn, row: dict) -> bool:
    # A task deleted while its run was writing: nothing to record the change against.
    cursor = conn.execute(
        "INSERT INTO file_changes (id, task_id, root, path, before_content, before_hash, after_hash, diff, "
        "created_at) SELECT ?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?)",
        (row["id"], row["task_id"], row["root"], row["path"], row["before_content"], row["before_hash"],
         row["after_hash"], row["diff"], row["created_at"], row["task_id"]))
    return cursor.rowcount == 1


async def insert_change(db: Database, *, task_id: str, root: str, path: str, before_content: bytes | None,
                        before_hash: str | None, after_hash: str, diff: str) -> dict:
    """Record one change; returns {id, createdAt} (the id is None when the task is gone)."""
    row = {"id": new_id(), "task_id": task_id, "root": root, "path": path, "before_content": before_content,
           "before_hash": before_hash, "after_hash": after_hash, "diff": diff, "created_at": now_iso()}
    stored = await db.write(lambda conn: _insert_in(conn, row))
    return {"id": row["id"] if stored else None, "createdAt": row["created_at"]}


async def list_changes(db: Database, task_id: str) -> list[dict]:
    """The task's changes, oldest first, without their before-content."""
    rows = await db.fetchall(f"SELECT {_PUBLIC} FROM file_changes WHERE task_id = ? ORDER BY seq", (task_id,))
    return [{"id": r["id"], "path": r["path"], "beforeHash": r["before_hash"], "afterHash": r["after_hash"],
             "diff": r["diff"], "createdAt": r["created_at"], "revertedAt": r["reverted_at"]} for r in rows]


async def unreverted(db: Database, task_id: str) -> list[dict]:
    """The changes a revert has not undone yet, oldest first, with their before-content."""
    rows = await db.fetchall(
        "SELECT id, root, path, before_content, before_hash, after_hash FROM file_changes "
        "WHERE task_id = ? AND reverted_at IS NULL ORDER BY seq", (task_id,))
    return [dict(r) for r in rows]


async def mark_reverted(db: Database, ids: list[str]) -> None:
    if not ids:
        return
    at = now_iso()

    def mark(conn) -> None:
        conn.executemany("UPDATE file_changes SET reverted_at = ? WHERE id = ?", [(at, i) for i in ids])

    await db.write(mark)

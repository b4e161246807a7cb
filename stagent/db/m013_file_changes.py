"""Migration m013: `file_changes`, what each write_file/edit_file of a task run did to a file:
its content before (NULL when the run created the file), the hashes before and after, and the
diff, so GET /api/tasks/{id}/changes can show it and .../changes/revert can undo it."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m013_file_changes(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE file_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            root TEXT NOT NULL,
            path TEXT NOT NULL,
            before_content BLOB,
            before_hash TEXT,
            after_hash TEXT NOT NULL,
            diff TEXT NOT NULL,
            created_at TEXT NOT NULL,
            reverted_at TEXT
        );
        CREATE INDEX file_changes_task ON file_changes(task_id, seq);
        """,
    )

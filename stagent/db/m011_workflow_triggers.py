"""Migration m011: workflow triggers (webhook tokens) and schedules that start workflows.

A `webhook-trigger` node of a workflow's definition gets a row with its secret token (the hash
is what a call is looked up by); a `schedule-trigger` node gets a row pointing at the schedule
it created. A schedule with a `workflow_id` starts that workflow instead of creating a task.
Deleting the workflow deletes both (ON DELETE CASCADE).
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m011_workflow_triggers(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        ALTER TABLE schedules ADD COLUMN workflow_id TEXT REFERENCES workflows(id) ON DELETE CASCADE;
        CREATE INDEX schedules_workflow ON schedules(workflow_id) WHERE workflow_id IS NOT NULL;

        CREATE TABLE workflow_triggers (
            id TEXT PRIMARY KEY,
            workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
            node_id TEXT NOT NULL,
            kind TEXT NOT NULL,                 -- webhook | schedule
            token TEXT,                         -- webhook: the URL's secret, shown to the user
            token_hash TEXT UNIQUE,             -- webhook: SHA-256 of the token, what a call is found by
            schedule_id TEXT REFERENCES schedules(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            UNIQUE (workflow_id, node_id)
        );
        """,
    )

"""Migration m009: workflow runs and step states, workflow document bindings.

- `workflow_runs`: one row per run (`run_number` as the workflow's counter gives it); `status`
  running|paused|completed|failed|cancelled, what started it, the loop's stop reason, and
  `log_seq`, the last agent_logs seq before the run began (where its progress stream starts).
- `workflow_step_states`: one row per step of a run (a loop: one per iteration), the task that
  ran it, its result or error, and the checkpoint notification a gate waits on.
- `workflow_documents`: documents bound to a workflow, or to one of its steps.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m009_workflows(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE workflow_runs (
            workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
            run_number INTEGER NOT NULL,
            status TEXT NOT NULL,
            trigger TEXT NOT NULL DEFAULT 'manual',
            input_text TEXT,
            stop_reason TEXT,
            error TEXT,
            log_seq INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (workflow_id, run_number)
        );

        CREATE TABLE workflow_step_states (
            workflow_id TEXT NOT NULL,
            run_number INTEGER NOT NULL,
            step_id TEXT NOT NULL,
            iteration INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            task_id TEXT,
            notification_id TEXT,
            result TEXT,
            error TEXT,
            started_at TEXT,
            completed_at TEXT,
            PRIMARY KEY (workflow_id, run_number, step_id, iteration),
            FOREIGN KEY (workflow_id, run_number) REFERENCES workflow_runs(workflow_id, run_number)
                ON DELETE CASCADE
        );
        CREATE INDEX workflow_step_states_task ON workflow_step_states(task_id);

        CREATE TABLE workflow_documents (
            id TEXT PRIMARY KEY,
            workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            step_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX workflow_documents_binding
            ON workflow_documents(workflow_id, document_id, COALESCE(step_id, ''));
        CREATE INDEX workflow_documents_document ON workflow_documents(document_id);
        CREATE INDEX workflows_created ON workflows(created_at);
        """,
    )

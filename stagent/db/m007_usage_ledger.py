"""Migration m007: spend outlives what caused it.

The ledger's rows were deleted with their task or project (ON DELETE CASCADE), so deleting a
task lowered the month's spend and let a run slip past a budget. They now keep their row with
the link set to NULL. SQLite cannot change a foreign key in place: the table is rebuilt.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m007_usage_ledger(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE usage_ledger_new (
            id TEXT PRIMARY KEY,
            task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            workflow_id TEXT,
            schedule_id TEXT,
            project_id TEXT REFERENCES projects(id) ON DELETE SET NULL,
            activity_type TEXT NOT NULL,
            runtime_id TEXT,
            provider_id TEXT,
            model_id TEXT,
            status TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens INTEGER NOT NULL DEFAULT 0,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            pricing_version TEXT,
            started_at TEXT,
            finished_at TEXT
        );
        INSERT INTO usage_ledger_new SELECT id, task_id, workflow_id, schedule_id, project_id, activity_type,
            runtime_id, provider_id, model_id, status, input_tokens, output_tokens, total_tokens, cost_micros,
            pricing_version, started_at, finished_at FROM usage_ledger;
        DROP TABLE usage_ledger;
        ALTER TABLE usage_ledger_new RENAME TO usage_ledger;
        CREATE INDEX usage_task ON usage_ledger(task_id);
        -- Budget windows sum spend by time.
        CREATE INDEX usage_finished ON usage_ledger(finished_at);
        """,
    )

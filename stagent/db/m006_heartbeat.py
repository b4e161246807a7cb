"""Migration m006: the Stan heartbeat's run history (its configuration lives in `settings`)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m006_heartbeat(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE stan_heartbeat_runs (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            healthy INTEGER NOT NULL,
            results TEXT NOT NULL,
            trigger TEXT NOT NULL
        );
        CREATE INDEX stan_heartbeat_runs_started ON stan_heartbeat_runs(started_at);
        """,
    )

"""Migration m011: workflow triggers (webhook tokens) and schedules that start workflows."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m011_workflow_triggers(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

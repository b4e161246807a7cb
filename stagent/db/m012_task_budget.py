"""Migration m012: a task's own spend limit (`maxBudgetUsd`); NULL means the default for its kind."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m012_task_budget(conn: sqlite3.Connection) -> None:
    run_script(conn, "ALTER TABLE tasks ADD COLUMN max_budget_usd REAL;")

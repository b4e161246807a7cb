"""Migration m002_scheduler (see stagent/db/migrations.py for the rules)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m002_scheduler(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

"""Migration m009: workflow runs and step states, workflow document bindings."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m009_workflows(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

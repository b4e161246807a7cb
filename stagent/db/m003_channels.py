"""Migration m003_channels (see stagent/db/migrations.py for the rules)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m003_channels(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

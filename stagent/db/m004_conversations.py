"""Migration m004_conversations (see stagent/db/migrations.py for the rules)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m004_conversations(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

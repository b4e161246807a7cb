"""Migration m010: Lars clients and suggested actions."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m010_lars(conn: sqlite3.Connection) -> None:
    run_script(conn, "")

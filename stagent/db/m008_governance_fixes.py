"""Migration m008: budget windows read the usage ledger by index.

Spend is summed by `COALESCE(finished_at, started_at)` (store/usage.py FINISHED_SQL), which the
plain `usage_finished` index cannot serve: every budget re-read scanned the whole ledger.
SQLite uses an index on the same expression.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m008_governance_fixes(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE INDEX usage_finished_or_started ON usage_ledger(COALESCE(finished_at, started_at));
        """,
    )

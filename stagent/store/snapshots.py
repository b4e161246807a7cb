"""SQL of the snapshot engine: what blocks a restore, and the staged database's carry-over of
the things a restore must not roll back (credentials, the backup settings)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from ..db import Database
from ..db.migrations import migrate

# Settings a restore keeps from the live database: rolling them back would lock the user out
# (requireApiKey) or switch the backups themselves off.
KEPT_SETTINGS = ("security.requireApiKey", "snapshot.%")


class SnapshotCorrupt(Exception):
    """A snapshot's files do not match what was recorded when it was made."""


def backup_database(live: Path, dest: Path) -> None:
    """A consistent copy of the live database as of one moment, taken in one backup step (one
    read transaction: WAL writers go on, and the copy never restarts because of them)."""
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True, isolation_level=None)
    target = sqlite3.connect(str(dest), isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout=5000")
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        target.close()
        source.close()


def check_database(path: Path) -> None:
    """PRAGMA integrity_check on a copy; raises SnapshotCorrupt unless it says ok."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise SnapshotCorrupt(f"database copy unreadable: {exc}") from None
    if [r[0] for r in rows] != ["ok"]:
        raise SnapshotCorrupt("integrity_check: " + "; ".join(str(r[0]) for r in rows[:5]))


async def running_tasks(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT id, title FROM tasks WHERE status = 'running' ORDER BY created_at")
    return [{"id": r["id"], "title": r["title"]} for r in rows]


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}", uri=True, isolation_level=None)


def migrate_staged(staged: Path) -> list[str]:
    """Bring a staged copy up to this code's schema (SchemaTooNew for a newer one); returns the
    migrations applied."""
    with contextlib.closing(_connect(staged)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        applied = migrate(conn)
        conn.execute("PRAGMA journal_mode=DELETE")
    return applied


def carry_over(staged: Path, live: Path) -> None:
    """Copy the live API keys, sessions and kept settings into the staged copy, in one
    transaction (called with the live database closed, so nothing changes meanwhile)."""
    with contextlib.closing(_connect(staged)) as conn:
        conn.execute("ATTACH DATABASE ? AS live", (f"file:{live}",))
        columns = ", ".join(r[1] for r in conn.execute("PRAGMA main.table_info(api_keys)"))
        kept = " OR ".join("key LIKE ?" for _ in KEPT_SETTINGS)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM main.api_keys")
        conn.execute(f"INSERT INTO main.api_keys ({columns}) SELECT {columns} FROM live.api_keys")
        conn.execute(f"DELETE FROM main.settings WHERE {kept}", KEPT_SETTINGS)
        conn.execute(f"INSERT INTO main.settings (key, value, updated_at) SELECT key, value, updated_at "
                     f"FROM live.settings WHERE {kept}", KEPT_SETTINGS)
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE live")

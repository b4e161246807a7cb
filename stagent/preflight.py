"""preflight(config): why the daemon must not start with this configuration, checked before
uvicorn starts, because uvicorn would bury the lifespan's refusal in a traceback."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from .config import Config
from .db.migrations import SchemaTooNew, migrate
from .lifespan import DataDirInUse, lock_data_dir


def preflight(config: Config) -> str | None:
    """The reason the daemon cannot start (one line), or None when it can."""
    return _schema_error(config.db_path) or _lock_error(config.data_dir)


def _schema_error(db_path: Path) -> str | None:
    """A database from a newer stagent. Checked read-only; pending migrations are not this
    check's business: the lifespan applies them."""
    if not db_path.is_file():
        return None
    try:
        uri = db_path.resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:
            migrate(conn)  # raises SchemaTooNew before it would write anything
    except SchemaTooNew as exc:
        return str(exc)
    except sqlite3.Error:
        pass  # pending migrations cannot run read-only; the lifespan will run them
    return None


def _lock_error(data_dir: Path) -> str | None:
    """Another daemon holding this data dir."""
    if not data_dir.is_dir():
        return None
    try:
        os.close(lock_data_dir(data_dir))
    except DataDirInUse as exc:
        return str(exc)
    return None

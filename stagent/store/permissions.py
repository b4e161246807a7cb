"""Allow-lists: JSON arrays of patterns in settings rows.

`permissions.allow` is the global list (the catalog's); `permissions.allow.project.<id>` and
`permissions.allow.profile.<id>` add to it for one project or agent profile (an extension).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..db import Database
from .settings import set_in

GLOBAL_KEY = "permissions.allow"
TIMEOUT_KEY = "permissions.requestTimeoutSeconds"


def allow_key(project_id: str | None = None, profile_id: str | None = None) -> str:
    if project_id:
        return f"{GLOBAL_KEY}.project.{project_id}"
    if profile_id:
        return f"{GLOBAL_KEY}.profile.{profile_id}"
    return GLOBAL_KEY


def _parse(value: str | None) -> list[str]:
    try:
        parsed = json.loads(value) if value else []
    except ValueError:
        return []
    return [p for p in parsed if isinstance(p, str)] if isinstance(parsed, list) else []


def read_in(conn, key: str) -> list[str]:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return _parse(row["value"] if row else None)


def write_in(conn, key: str, patterns: list[str]) -> None:
    set_in(conn, key, json.dumps(patterns))


def add_in(conn, key: str, patterns: list[str] | tuple[str, ...]) -> list[str]:
    current = read_in(conn, key)
    added = [p for p in dict.fromkeys(patterns) if p not in current]
    if added:
        write_in(conn, key, current + added)
    return current + added


async def get_allow(db: Database, key: str = GLOBAL_KEY) -> list[str]:
    row = await db.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
    return _parse(row["value"] if row else None)


async def update_allow(db: Database, key: str, change: Callable[[list[str]], list[str]]) -> list[str]:
    """Read-modify-write the list in one transaction (two clients cannot lose an add)."""

    def write(conn):
        current = read_in(conn, key)
        updated = change(list(current))
        if updated != current:
            write_in(conn, key, updated)
        return updated

    return await db.write(write)


async def effective_allow(db: Database, project_id: str | None = None, profile_id: str | None = None) -> list[str]:
    """The global list plus the project's and the profile's additions, in one read."""
    keys = [GLOBAL_KEY, *([allow_key(project_id=project_id)] if project_id else []),
            *([allow_key(profile_id=profile_id)] if profile_id else [])]
    rows = await db.fetchall(f"SELECT value FROM settings WHERE key IN ({','.join('?' * len(keys))})", keys)
    return [p for row in rows for p in _parse(row["value"])]


async def timeout_seconds(db: Database, default: float) -> float:
    value = await db.scalar("SELECT value FROM settings WHERE key = ?", (TIMEOUT_KEY,))
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


async def set_timeout_seconds(db: Database, seconds: float) -> None:
    text = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
    await db.write(lambda conn: set_in(conn, TIMEOUT_KEY, text))

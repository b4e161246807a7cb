"""API keys and browser sessions: only SHA-256 hashes are stored; a secret is shown once."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, to_iso
from ..errors import NotFound
from ..security import ALL_SCOPES, KeyCache, Principal, hash_secret, new_secret


async def load_cache(db: Database, cache: KeyCache) -> None:
    rows = await db.fetchall("SELECT id, kind, key_hash, scopes FROM api_keys WHERE revoked_at IS NULL")
    cache.by_hash = {r["key_hash"]: Principal(r["id"], r["kind"], frozenset(loads(r["scopes"], [])))
                     for r in rows}


async def create_key(db: Database, cache: KeyCache, name: str, scopes: list[str],
                     kind: str = "key") -> tuple[str, dict]:
    secret, key_id, now = new_secret(), new_id(), now_iso()
    row = {"id": key_id, "kind": kind, "name": name, "prefix": secret[:8], "key_hash": hash_secret(secret),
           "scopes": dumps(sorted(set(scopes))), "created_at": now}
    await db.write(lambda conn: conn.execute(
        f"INSERT INTO api_keys ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())))
    cache.by_hash[row["key_hash"]] = Principal(key_id, kind, frozenset(scopes))
    return secret, _public({**row, "last_used_at": None, "revoked_at": None})


def _public(row) -> dict:
    return {"id": row["id"], "name": row["name"], "prefix": row["prefix"] + "…",
            "scopes": loads(row["scopes"], []), "createdAt": row["created_at"],
            "lastUsedAt": row["last_used_at"], "revokedAt": row["revoked_at"]}


async def list_keys(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM api_keys WHERE kind = 'key' ORDER BY created_at, rowid")
    return [_public(r) for r in rows]


async def revoke_key(db: Database, cache: KeyCache, key_id: str) -> None:
    def revoke(conn):
        row = conn.execute("SELECT key_hash FROM api_keys WHERE id = ? AND kind = 'key'", (key_id,)).fetchone()
        if row is None:
            raise NotFound("API key not found")
        conn.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", (now_iso(), key_id))
        return row["key_hash"]

    cache.by_hash.pop(await db.write(revoke), None)


async def flush_usage(db: Database, cache: KeyCache) -> None:
    used, cache.used = cache.used, set()
    if used:
        now = now_iso()
        await db.write(lambda conn: conn.executemany(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?", [(now, i) for i in used]))


async def ensure_initial_key(db: Database, cache: KeyCache, path: Path) -> bool:
    """Write a full-scope key to `path` (mode 0600) unless the file already holds an active key."""
    if path.exists():
        secret = path.read_text().strip()
        if hash_secret(secret) in cache.by_hash:
            return False
    secret, _ = await create_key(db, cache, "default", list(ALL_SCOPES))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    os.replace(tmp, path)
    return True


SESSION_DAYS = 30
MAX_SESSIONS = 50


async def create_session(db: Database, cache: KeyCache) -> str:
    secret, _ = await create_key(db, cache, "browser session", list(ALL_SCOPES), kind="session")
    await prune_sessions(db, cache)
    return secret


async def prune_sessions(db: Database, cache: KeyCache) -> None:
    """Browser sessions expire after 30 idle days, and only the 50 most recent are kept."""
    cutoff = to_iso(datetime.now(UTC) - timedelta(days=SESSION_DAYS))

    def prune(conn):
        doomed = [r[0] for r in conn.execute(
            "SELECT key_hash FROM api_keys WHERE kind = 'session' AND (COALESCE(last_used_at, created_at) < ? "
            "OR id NOT IN (SELECT id FROM api_keys WHERE kind = 'session' "
            "ORDER BY COALESCE(last_used_at, created_at) DESC, rowid DESC LIMIT ?))",
            (cutoff, MAX_SESSIONS))]
        conn.executemany("DELETE FROM api_keys WHERE key_hash = ?", [(h,) for h in doomed])
        return doomed

    for key_hash in await db.write(prune):
        cache.by_hash.pop(key_hash, None)

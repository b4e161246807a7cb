"""Settings rows plus the settings registry: one entry per key, with default, secrecy and env var.

Values are stored as strings (as the original does). A secret is never returned by any
route: callers get `hasKey`/masked forms from engine/providers.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..db import Database
from ..db.rows import now_iso
from ..sanitize import remember_secret


@dataclass(frozen=True)
class Setting:
    key: str
    default: str = ""
    secret: bool = False
    env: str | None = None


REGISTRY: dict[str, Setting] = {s.key: s for s in (
    Setting("auth.method", ""),
    Setting("auth.apiKey", secret=True, env="ANTHROPIC_API_KEY"),
    Setting("openai.authApiKey", secret=True, env="OPENAI_API_KEY"),
    Setting("openai.baseUrl", env="OPENAI_API_BASE"),
    Setting("ollama.baseUrl", "http://localhost:11434", env="OLLAMA_API_BASE"),
    Setting("ollama.defaultModel", ""),
    Setting("chat.defaultModel", "haiku"),
    Setting("runtime.sdkTimeoutSeconds", "60"),
    Setting("runtime.maxTurns", "10"),
    Setting("runtime.defaultModel", env="STAGENT_DEFAULT_MODEL"),
    Setting("routing.preference", "latency"),
    Setting("security.requireApiKey", "false"),
    Setting("stan.heartbeat.enabled", "true"),
    Setting("stan.heartbeat.checks", '["workflows","deployments","credits"]'),
    Setting("stan.heartbeat.intervalMinutes", "30"),
    Setting("stan.heartbeat.deliveryChannels", "[]"),  # extension: channel ids that get its alerts
    Setting("stan.heartbeat.modelsProbe", ""),  # the last models probe (JSON), reused until the next day
    Setting("permissions.approvalChannels", "[]"),  # extension: channel ids that get permission requests
    Setting("permissions.requestTimeoutSeconds", "600"),  # extension: an unanswered request is denied then
    Setting("web.exaSearchEnabled", "false"),  # web_search through Exa (engine/agent/web.py)
    Setting("web.exaApiKey", secret=True, env="EXA_API_KEY"),  # extension
    Setting("web.exaBaseUrl", "https://api.exa.ai"),  # extension: tests point it at a loopback fake
    Setting("profiles.githubApiUrl", "https://api.github.com", env="STAGENT_GITHUB_API_URL"),  # profile import
    Setting("profiles.githubRawUrl", "https://raw.githubusercontent.com", env="STAGENT_GITHUB_RAW_URL"),
    Setting("snapshot.autoBackup.enabled", "false"),  # snapshots (engine/snapshots/auto.py)
    Setting("snapshot.autoBackup.interval", "1d"),
    Setting("snapshot.retention.maxCount", "10"),
    Setting("snapshot.retention.maxAgeWeeks", "4"),
)}


async def get_many(db: Database, keys: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """Stored values only (no defaults, no env): None where unset."""
    rows = await db.fetchall(
        f"SELECT key, value FROM settings WHERE key IN ({','.join('?' * len(keys))})", list(keys)
    )
    found = {r["key"]: r["value"] for r in rows}
    return {k: found.get(k) for k in keys}


def _resolve(key: str, stored: str | None) -> tuple[str, str]:
    setting = REGISTRY.get(key)
    if stored not in (None, ""):
        if setting and setting.secret:
            remember_secret(stored)  # redacted wherever a provider echoes it (sanitize.py)
        return stored, "db"
    if setting and setting.env and os.environ.get(setting.env):
        if setting.secret:
            remember_secret(os.environ[setting.env])
        return os.environ[setting.env], "env"
    return (setting.default if setting else ""), "default"


async def resolve(db: Database, key: str) -> tuple[str, str]:
    """(value, source) where source is db | env | default."""
    return _resolve(key, (await get_many(db, [key]))[key])


async def resolve_many(db: Database, keys: list[str] | tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """resolve() for several keys with one read."""
    stored = await get_many(db, keys) if keys else {}
    return {key: _resolve(key, stored[key]) for key in keys}


async def value(db: Database, key: str) -> str:
    return (await resolve(db, key))[0]


def set_in(conn, key: str, value: str, updated_at: str | None = None) -> None:
    """Store one value inside the caller's transaction."""
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?,?,?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, updated_at or now_iso()),
    )


async def set_many(db: Database, values: dict[str, str | None]) -> None:
    """None deletes the row (back to env/default)."""
    now = now_iso()
    for key, val in values.items():
        if key in REGISTRY and REGISTRY[key].secret:
            remember_secret(val)

    def write(conn):
        for key, val in values.items():
            if val is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                set_in(conn, key, str(val), now)

    await db.write(write)

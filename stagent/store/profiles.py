"""User agent profiles (config JSON + SKILL.md) and saved smoke-test reports."""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso


def _profile(row) -> dict:
    return {"config": loads(row["config"], {}), "skillMd": row["skill_md"], "origin": row["origin"],
            "createdAt": row["created_at"], "updatedAt": row["updated_at"]}


async def list_user(db: Database) -> list[dict]:
    return [_profile(r) for r in await db.fetchall("SELECT * FROM profiles ORDER BY id")]


async def get_user(db: Database, profile_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM profiles WHERE id = ?", (profile_id,))
    return None if row is None else _profile(row)


async def insert_user(db: Database, config: dict, skill_md: str, origin: str = "manual") -> bool:
    """False when a profile with this id already exists (nothing written)."""
    now = now_iso()

    def insert(conn) -> bool:
        if conn.execute("SELECT 1 FROM profiles WHERE id = ?", (config["id"],)).fetchone():
            return False
        conn.execute("INSERT INTO profiles (id, config, skill_md, origin, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?)", (config["id"], dumps(config), skill_md, origin, now, now))
        return True

    return await db.write(insert)


async def replace_user(db: Database, profile_id: str, config: dict, skill_md: str) -> bool:
    """False when there is no such user profile."""
    changed = await db.execute("UPDATE profiles SET config = ?, skill_md = ?, updated_at = ? WHERE id = ?",
                               (dumps(config), skill_md, now_iso(), profile_id))
    return changed > 0


async def delete_user(db: Database, profile_id: str) -> bool:
    def delete(conn) -> bool:
        conn.execute("DELETE FROM profile_test_results WHERE profile_id = ?", (profile_id,))
        return conn.execute("DELETE FROM profiles WHERE id = ?", (profile_id,)).rowcount > 0

    return await db.write(delete)


async def save_report(db: Database, profile_id: str, runtime_id: str, report: dict) -> None:
    await db.execute("INSERT INTO profile_test_results (id, profile_id, runtime_id, report, created_at) "
                     "VALUES (?,?,?,?,?)", (new_id(), profile_id, runtime_id, dumps(report), now_iso()))


async def latest_report(db: Database, profile_id: str, runtime_id: str | None) -> dict | None:
    if runtime_id:
        row = await db.fetchone("SELECT report FROM profile_test_results WHERE profile_id = ? AND runtime_id = ? "
                                "ORDER BY created_at DESC, rowid DESC LIMIT 1", (profile_id, runtime_id))
    else:
        row = await db.fetchone("SELECT report FROM profile_test_results WHERE profile_id = ? "
                                "ORDER BY created_at DESC, rowid DESC LIMIT 1", (profile_id,))
    return None if row is None else loads(row["report"])

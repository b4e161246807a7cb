"""agent_memory: a profile's episodic memories (fact, preference, pattern, outcome).

Confidence is an integer 0-1000. `decayed_at` is when daily decay was last applied, so decay
is applied lazily and exactly once per elapsed day (engine/memory/memory.py owns the rules).
"""

from __future__ import annotations

from collections.abc import Callable

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict

CATEGORIES = ("fact", "preference", "pattern", "outcome")
STATUSES = ("active", "decayed", "archived", "rejected")
_OUT = ("id", "profileId", "category", "content", "confidence", "sourceTaskId", "tags", "lastAccessedAt",
        "accessCount", "decayRate", "status", "createdAt", "updatedAt")


def to_api(row) -> dict:
    """The catalog's memory row; `tags` stays a JSON string, as documented."""
    out = row_to_dict(row)
    return {k: out.get(k) for k in _OUT}


async def list_memories(db: Database, profile_id: str, category: str | None = None,
                        status: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM agent_memory WHERE profile_id = ?", [profile_id]
    if category:
        sql += " AND category = ?"
        params.append(category)
    if status:
        sql += " AND status = ?"
        params.append(status)
    rows = await db.fetchall(sql + " ORDER BY confidence DESC, created_at DESC", params)
    return [to_api(r) for r in rows]


def insert_in(conn, fields: dict) -> str:
    memory_id, now = new_id(), now_iso()
    conn.execute(
        "INSERT INTO agent_memory (id, profile_id, category, content, confidence, source_task_id, tags, "
        "decay_rate, status, decayed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (memory_id, fields["profile_id"], fields["category"], fields["content"], fields.get("confidence", 700),
         fields.get("source_task_id"), dumps(fields.get("tags") or []), fields.get("decay_rate", 10),
         "active", now, now, now))
    return memory_id


async def create(db: Database, fields: dict) -> str:
    return await db.write(lambda conn: insert_in(conn, fields))


async def update(db: Database, memory_id: str, changes: dict) -> bool:
    """Set confidence and/or status; False when there is no such memory (no 404 by contract)."""
    changes = {k: v for k, v in changes.items() if k in ("confidence", "status")}
    if not changes:
        return bool(await db.scalar("SELECT 1 FROM agent_memory WHERE id = ?", (memory_id,)))
    sets = ", ".join(f"{k} = ?" for k in changes)
    return await db.execute(f"UPDATE agent_memory SET {sets}, updated_at = ? WHERE id = ?",
                            (*changes.values(), now_iso(), memory_id)) > 0


async def get(db: Database, memory_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM agent_memory WHERE id = ?", (memory_id,))
    return to_api(row) if row else None


async def decay(db: Database, profile_id: str | None, compute: Callable[[dict], dict | None]) -> int:
    """Apply `compute(row) -> {confidence, status, decayed_at} | None` to the active memories
    (of one profile, or all); returns how many changed. Read first: a run start that decays
    nothing (the usual case) costs no write. A row edited since the read keeps the edit."""
    sql, params = "SELECT * FROM agent_memory WHERE status = 'active'", []
    if profile_id is not None:
        sql += " AND profile_id = ?"
        params.append(profile_id)
    changes = [(row["id"], row["updated_at"], new) for row in await db.fetchall(sql, params)
               if (new := compute(row_to_dict(row)))]
    if not changes:
        return 0

    def write(conn):
        now = now_iso()
        return sum(conn.execute(
            "UPDATE agent_memory SET confidence = ?, status = ?, decayed_at = ?, updated_at = ? "
            "WHERE id = ? AND updated_at = ? AND status = 'active'",
            (new["confidence"], new["status"], new["decayed_at"], now, memory_id, updated_at)).rowcount
            for memory_id, updated_at, new in changes)

    return await db.write(write)


async def merge_proposals(db: Database, profile_id: str, proposals: list[dict],
                          same: Callable[[str, str], bool], boost: int = 50) -> list[str]:
    """Store proposed memories in one transaction: a near-duplicate (`same(old, new)`) of an
    active memory raises that memory's confidence (by `boost`, at least to the proposal's)
    instead of adding a row. Returns the ids touched or created."""

    def write(conn):
        existing = [dict(r) for r in conn.execute(
            "SELECT id, content, confidence, tags FROM agent_memory WHERE profile_id = ? AND status = 'active'",
            (profile_id,))]
        ids = []
        for proposal in proposals:
            match = next((m for m in existing if same(m["content"], proposal["content"])), None)
            if match is None:
                memory_id = insert_in(conn, {**proposal, "profile_id": profile_id})
                existing.append({"id": memory_id, "content": proposal["content"],
                                 "confidence": proposal.get("confidence", 700), "tags": dumps(proposal.get("tags"))})
            else:
                memory_id = match["id"]
                confidence = min(1000, max(match["confidence"] + boost, proposal.get("confidence", 0)))
                tags = sorted(set(loads(match["tags"], []) or []) | set(proposal.get("tags") or []))
                conn.execute("UPDATE agent_memory SET confidence = ?, tags = ?, updated_at = ? WHERE id = ?",
                             (confidence, dumps(tags), now_iso(), memory_id))
                match["confidence"] = confidence
            ids.append(memory_id)
        return ids

    return await db.write(write)


async def most_confident(db: Database, profile_id: str, limit: int, min_confidence: int) -> list[dict]:
    rows = await db.fetchall(
        "SELECT * FROM agent_memory WHERE profile_id = ? AND status = 'active' AND confidence >= ? "
        "ORDER BY confidence DESC, updated_at DESC LIMIT ?", (profile_id, min_confidence, limit))
    return [to_api(r) for r in rows]


async def touch(db: Database, memory_ids: list[str]) -> None:
    """The memories went into a prompt: accessCount + 1, lastAccessedAt now."""
    if memory_ids:
        now = now_iso()
        await db.write(lambda conn: conn.executemany(
            "UPDATE agent_memory SET access_count = access_count + 1, last_accessed_at = ? WHERE id = ?",
            [(now, i) for i in memory_ids]))

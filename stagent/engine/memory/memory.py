"""A profile's episodic memory: daily confidence decay, near-duplicate merging of proposed
memories, and the memory block a task's system prompt carries.

Invariants:
- decay is applied once per elapsed whole day since a memory's `decayed_at` (lazily, before
  memories are listed or injected), so listing twice never decays twice;
- the prompt block holds only active memories with confidence >= MIN_CONFIDENCE, the most
  relevant to the task first (confidence, shared words, tags), within PROMPT_TOKEN_BUDGET (about 4 characters a token); exactly the
  memories it holds get accessCount + 1 and lastAccessedAt = now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import loads, to_iso
from ...store import memory as store

MIN_CONFIDENCE = 300
PROMPT_LIMIT = 10
CANDIDATES = 40  # the most confident, ranked by relevance to the task
PROMPT_TOKEN_BUDGET = 500
ARCHIVE_AFTER_DAYS = 90
_WORD = re.compile(r"[a-z0-9]+")


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def decayed(memory: dict, now: datetime) -> dict | None:
    """The memory's new {confidence, status, decayed_at} after the whole days elapsed since it
    was last decayed, or None when no day has passed."""
    days = int((now - _parse(memory["decayedAt"])).total_seconds() // 86400)
    if days < 1:
        return None
    confidence = round(memory["confidence"] * (1 - memory["decayRate"] / 1000) ** days)
    idle = (now - _parse(memory["lastAccessedAt"] or memory["createdAt"])).days
    status = "active"
    if idle > ARCHIVE_AFTER_DAYS and confidence < 200:
        status = "archived"
    elif confidence < 100:
        status = "decayed"
    return {"confidence": max(0, confidence), "status": status,
            "decayed_at": to_iso(_parse(memory["decayedAt"]) + timedelta(days=days))}


async def apply_decay(db: Database, profile_id: str | None = None, now: datetime | None = None) -> int:
    moment = now or datetime.now(UTC)
    return await store.decay(db, profile_id, lambda m: decayed(m, moment))


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def near_duplicate(old: str, new: str) -> bool:
    """One contains the other, or more than 80 % of the shorter one's words are shared."""
    a, b = old.strip().lower(), new.strip().lower()
    if a in b or b in a:
        return True
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) > 0.8


def clean_proposals(items: object, source_task_id: str | None, limit: int = 10) -> list[dict]:
    """Proposals from a model's JSON answer: well-formed ones only, confidence 0-1 -> 0-1000."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("category") not in store.CATEGORIES:
            continue
        content = item.get("content")
        if not isinstance(content, str) or not 3 <= len(content.strip()) <= 500:
            continue
        confidence = item.get("confidence", 0.6)
        if not isinstance(confidence, (int, float)) or isinstance(confidence, bool):
            confidence = 0.6
        confidence = round(min(1.0, max(0.0, confidence if confidence <= 1 else confidence / 1000)) * 1000)
        tags = [str(t)[:40] for t in item.get("tags", []) if isinstance(t, str)][:5] \
            if isinstance(item.get("tags"), list) else []
        out.append({"category": item["category"], "content": content.strip(), "confidence": confidence,
                    "tags": tags, "source_task_id": source_task_id})
    return out[:limit]


async def remember(db: Database, profile_id: str, proposals: list[dict]) -> list[str]:
    """Store proposals, merging near-duplicates into the memory they repeat."""
    return await store.merge_proposals(db, profile_id, proposals, near_duplicate) if proposals else []


def relevance(memory: dict, task_words: set[str]) -> float:
    """Confidence first, then what the memory shares with the task: 0.6 x confidence + 0.25 x
    word overlap (5 shared words count fully) + 0.15 when one of its tags occurs in the task."""
    tags = {t.lower() for t in loads(memory["tags"], []) or [] if isinstance(t, str)}
    overlap = min(len(words(memory["content"]) & task_words) / 5, 1.0)
    return 0.6 * memory["confidence"] / 1000 + 0.25 * overlap + 0.15 * bool(tags & task_words)


async def prompt_block(db: Database, profile_id: str | None, task_text: str = "") -> str:
    """The "Memory" section for a run of this profile on this task ("" when it has none)."""
    if not profile_id:
        return ""
    await apply_decay(db, profile_id)
    task_words = words(task_text)
    candidates = await store.most_confident(db, profile_id, CANDIDATES, MIN_CONFIDENCE)
    candidates.sort(key=lambda m: relevance(m, task_words), reverse=True)
    lines, used, budget = [], [], PROMPT_TOKEN_BUDGET * 4
    for memory in candidates[:PROMPT_LIMIT]:
        line = f"- ({memory['category']}, confidence {memory['confidence'] / 1000:.2f}) {memory['content']}"
        if len(line) + 1 > budget:
            continue
        budget -= len(line) + 1
        lines.append(line)
        used.append(memory["id"])
    if not lines:
        return ""
    await store.touch(db, used)
    return ("## Memory\nWhat earlier tasks of this profile taught you (use it when it applies; it may "
            "be out of date):\n" + "\n".join(lines))

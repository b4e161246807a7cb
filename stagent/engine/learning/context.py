"""Learned context: what a profile's agents propose to add to their own standing context, the
operator's decisions on it, and the block a task's system prompt carries.

Owns the settings `learning.contextCharLimit` (2000-32000, a multiple of 1000, default 8000)
and `learning.enabled` (extension: whether a finished task's agent reflects, default off).

Invariants:
- a proposal changes nothing until approved; each decision answers its inbox notification in
  the same transaction and a decided proposal cannot be decided again (409);
- the active context is the latest approved / rollback / summarization version;
- when an approval takes the context over the char limit, one summarisation is proposed (never
  a second while one is pending), so the prompt block never grows without the operator's say.
"""

from __future__ import annotations

from ...db import Database
from ...errors import Invalid
from ...events import EventBus, NotificationChanged, NotificationCreated
from ...store import learned_context as store
from ...store import settings as settings_store

LIMIT_KEY, ENABLED_KEY = "learning.contextCharLimit", "learning.enabled"
DEFAULT_LIMIT, MIN_LIMIT, MAX_LIMIT = 8000, 2000, 32000


async def settings(db: Database) -> dict:
    """{contextCharLimit: "8000", enabled: false}: the limit a string, as the original answers."""
    stored = await settings_store.get_many(db, [LIMIT_KEY, ENABLED_KEY])
    return {"contextCharLimit": stored[LIMIT_KEY] or str(DEFAULT_LIMIT),
            "enabled": (stored[ENABLED_KEY] or "false") == "true"}


async def char_limit(db: Database) -> int:
    value = (await settings(db))["contextCharLimit"]
    return int(value) if value.isdigit() else DEFAULT_LIMIT


async def enabled(db: Database) -> bool:
    return (await settings(db))["enabled"]


def check_limit(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_LIMIT <= value <= MAX_LIMIT \
            or value % 1000:
        raise Invalid("contextCharLimit must be a multiple of 1000 between 2000 and 32000")
    return value


async def save_settings(db: Database, limit: int | None, on: bool | None) -> dict:
    values = {}
    if limit is not None:
        values[LIMIT_KEY] = str(limit)
    if on is not None:
        values[ENABLED_KEY] = "true" if on else "false"
    if values:
        await settings_store.set_many(db, values)
    return await settings(db)


async def prompt_block(db: Database, profile_id: str | None) -> str:
    if not profile_id:
        return ""
    content = (await store.current(db, profile_id)).strip()
    return f"## Learned Context\nApproved lessons for this profile; follow them:\n{content}" if content else ""


class LearnedContext:
    """Proposals and decisions; publishes the inbox events after each commit."""

    def __init__(self, db: Database, events: EventBus) -> None:
        self.db, self.events = db, events

    async def propose(self, profile_id: str, additions: str, *, kind: str = "additions",
                      source_task_id: str | None = None) -> dict:
        row, notification = await store.propose(self.db, profile_id, additions, kind=kind,
                                                source_task_id=source_task_id)
        self.events.publish(NotificationCreated(notification["id"], source_task_id, "context_proposal"))
        return row

    async def decide(self, proposal_ids: list[str], action: str, *, edited: str | None = None,
                     approved_by: str = "user") -> list[dict]:
        if action not in ("approve", "reject"):
            raise Invalid("action must be 'approve' or 'reject'")
        rows = await store.decide_many(self.db, proposal_ids, action, edited=edited, approved_by=approved_by)
        for row in rows:
            self.events.publish(NotificationChanged(row["proposalNotificationId"], row["sourceTaskId"]))
        for profile_id in dict.fromkeys(r["profileId"] for r in rows if r["changeType"] == "approved"):
            await self._maybe_summarise(profile_id)
        return rows

    async def proposal_ids(self, ids: list[str]) -> list[str]:
        """Proposal row ids for ids of proposals or of their inbox notifications; Invalid (400)
        naming the first id that is neither."""
        found = []
        for given in dict.fromkeys(ids):
            row = await store.get(self.db, given)
            if row is None or row["changeType"] != "proposal":
                row = await store.by_notification(self.db, given)
            if row is None:
                raise Invalid(f"Unknown learned-context proposal: {given}")
            found.append(row["id"])
        return found

    async def decide_notification(self, notification_id: str, action: str, *, edited: str | None = None) -> dict:
        """The answer to one proposal's inbox notification (PATCH /api/profiles/{id}/context)."""
        proposal = await store.by_notification(self.db, notification_id)
        if proposal is None:
            raise Invalid(f"No learned-context proposal for notification {notification_id}")
        return (await self.decide([proposal["id"]], action, edited=edited))[0]

    async def add(self, profile_id: str, additions: str) -> dict:
        if not additions.strip():
            raise Invalid("additions must not be blank")
        row = await store.add_direct(self.db, profile_id, additions)
        await self._maybe_summarise(profile_id)
        return row

    async def rollback(self, profile_id: str, target_version: int) -> dict:
        return await store.rollback(self.db, profile_id, target_version)

    async def overview(self, profile_id: str) -> dict:
        """GET /api/profiles/{id}/context: history, size, limit (and the docs' maxSize)."""
        limit, content = await char_limit(self.db), await store.current(self.db, profile_id)
        return {"history": await store.history(self.db, profile_id), "currentSize": len(content),
                "limit": limit, "maxSize": limit, "needsSummarization": len(content) > limit,
                "content": content}

    async def _maybe_summarise(self, profile_id: str) -> None:
        limit, content = await char_limit(self.db), await store.current(self.db, profile_id)
        if len(content) <= limit or await store.pending_summarization(self.db, profile_id):
            return
        await self.propose(profile_id, summarise(content, int(limit * 0.75)), kind="summarization")


def summarise(content: str, budget: int) -> str:
    """A local summary: repeated lines dropped, the most recent lines kept within `budget`
    characters (the operator may edit it before approving)."""
    seen, kept = set(), []
    for line in reversed([line.strip() for line in content.splitlines() if line.strip()]):
        key = line.lower().lstrip("-* ")
        if key in seen:
            continue
        if sum(len(k) + 1 for k in kept) + len(line) + 1 > budget:
            break
        seen.add(key)
        kept.append(line)
    return "\n".join(reversed(kept))

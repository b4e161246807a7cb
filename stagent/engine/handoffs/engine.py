"""Handoffs between profiles: send one (the API, or an agent's send_handoff tool), approve or
reject a pending one, and turn accepted ones into tasks of the recipient profile.

Invariants:
- a chain of handoffs is at most MAX_CHAIN_DEPTH long (depth = parent's + 1, or the sending
  task's own handoff's + 1), so agents cannot hand work back and forth forever;
- no profile hands work to itself; both profiles must be known;
- an accepted handoff becomes exactly one queued task of its recipient (one transaction sets
  `target_task_id` and `in_progress`), started through Runner.execute; when that task
  completes the handoff is `completed`;
- pending handoffs expire after PENDING_TTL (checked before every read and every minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import now_iso, to_iso
from ...errors import ApiError, Invalid
from ...events import EventBus, NotificationChanged, NotificationCreated, TaskStatusChanged
from ...store import handoffs as store
from ..supervisor import Supervisor

log = logging.getLogger("stagent.handoffs")

MAX_CHAIN_DEPTH = 5
PENDING_TTL = timedelta(hours=24)
EXPIRY_CHECK_SECONDS = 60.0
TERMINAL = ("completed", "failed", "cancelled")


def expires_at() -> str:
    return to_iso(datetime.now(UTC) + PENDING_TTL)


async def check_profiles(registry, from_id: str, to_id: str, project_id: str | None = None) -> None:
    """Invalid for a self-handoff or an unknown profile (with a registry to ask)."""
    if from_id == to_id:
        raise Invalid("A profile cannot hand off to itself")
    if registry is None:
        return
    for profile_id in (from_id, to_id):
        if await registry.find(profile_id, project_id) is None:
            raise Invalid(f"Unknown profile: {profile_id}")


async def send(db: Database, registry, fields: dict) -> dict:
    """Validate and store one handoff (no event published: the caller's job)."""
    for key in ("from_profile_id", "to_profile_id", "subject", "body"):
        if not isinstance(fields.get(key), str) or not fields[key].strip():
            raise Invalid(f"{key.replace('_p', 'P').replace('_i', 'I')} is required")
        fields[key] = fields[key].strip()
    await check_profiles(registry, fields["from_profile_id"], fields["to_profile_id"])
    return await store.create(db, fields, max_depth=MAX_CHAIN_DEPTH, expires_at=expires_at())


class Handoffs:
    def __init__(self, db: Database, events: EventBus, runner, supervisor: Supervisor) -> None:
        self.db, self.events, self.runner, self.supervisor = db, events, runner, supervisor

    @property
    def registry(self):
        return getattr(self.runner, "profiles", None)

    async def send(self, fields: dict) -> dict:
        handoff = await send(self.db, self.registry, fields)
        if handoff["notificationId"]:
            self.events.publish(NotificationCreated(handoff["notificationId"], handoff["taskId"], "agent_message"))
        else:
            await self.dispatch()
        return await store.get(self.db, handoff["id"])

    async def get(self, handoff_id: str) -> dict:
        await self.expire()
        return await store.get(self.db, handoff_id)

    async def list(self, status: str | None, profile_id: str | None) -> list[dict]:
        await self.expire()
        return await store.list_handoffs(self.db, status, profile_id)

    async def decide(self, handoff_id: str, action: str, approved_by: str) -> dict:
        await self.expire()
        handoff = await store.decide(self.db, handoff_id, action, approved_by)
        self.events.publish(NotificationChanged(handoff["notificationId"], handoff["taskId"]))
        if handoff["status"] == "accepted":
            await self.dispatch()
            handoff = await store.get(self.db, handoff_id)
        return handoff

    async def expire(self) -> None:
        for handoff in await store.expire(self.db, now_iso()):
            self.events.publish(NotificationChanged(handoff["notificationId"], handoff["taskId"]))

    async def dispatch(self) -> None:
        """Accepted handoffs become tasks of their recipients, started now."""
        for _handoff, task in await store.start_accepted(self.db):
            self.events.publish(TaskStatusChanged(task["id"], "queued", None))
            try:
                await self.runner.execute(task["id"])
            except ApiError as exc:  # the runner marked the task failed, with its reason
                log.info("handoff task %s could not start: %s", task["id"], exc.message)

    # ---- the background watch -----------------------------------------------------------------

    def start(self) -> None:
        self.supervisor.start("handoffs", self._watch())

    async def stop(self) -> None:
        """Before runs end at shutdown: an interrupted run must not start a handoff's task."""
        await self.supervisor.cancel("handoffs")

    async def _watch(self) -> None:
        """A run that ended may have sent handoffs (send_handoff) or been a handoff's task."""
        with self.events.subscribe(TaskStatusChanged) as events:
            await self._tick(None)
            while True:
                event = None
                with contextlib.suppress(TimeoutError):
                    event = await asyncio.wait_for(events.get(), EXPIRY_CHECK_SECONDS)
                try:
                    await self._tick(event)
                except Exception:  # pragma: no cover - the watch must outlive one bad tick
                    log.exception("handoff watch failed")

    async def _tick(self, event: TaskStatusChanged | None) -> None:
        if event is not None and event.status not in TERMINAL:
            return
        if event is not None and event.status == "completed":
            await store.task_finished(self.db, event.task_id)
        await self.expire()
        await self.dispatch()

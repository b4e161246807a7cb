"""Facts on one in-process bus. Events are frozen, named in the past tense.

Publishing never blocks: each subscriber owns an unbounded queue it drains itself.
SSE endpoints, notifications and the heartbeat subscribe; nothing polls the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskStatusChanged:
    task_id: str
    status: str
    previous: str | None = None


@dataclass(frozen=True)
class NotificationCreated:
    notification_id: str
    task_id: str | None
    type: str


@dataclass(frozen=True)
class NotificationChanged:
    """Answered, read/unread or deleted."""

    notification_id: str | None
    task_id: str | None = None


@dataclass(frozen=True)
class WorkflowDefinitionChanged:
    """A workflow was created or its definition edited (its trigger nodes may differ)."""

    workflow_id: str


@dataclass(frozen=True)
class TableRowsChanged:
    """Rows of a user table were added, updated or deleted (one event per write, however many
    rows: a bulk insert of 1,000 rows is one event, so trigger storms can be bounded).
    `event` is row_added | row_updated | row_deleted; `rows` are the rows as the API shows them
    (for row_deleted, as they were); `previous` holds, for row_updated, each row's data before."""

    table_id: str
    event: str
    rows: tuple[dict, ...]
    changed_by: str = "user"
    previous: tuple[dict, ...] = ()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[tuple[tuple[type, ...], asyncio.Queue]] = set()

    def publish(self, event: Any) -> None:
        for types, queue in list(self._subscribers):
            if isinstance(event, types):
                queue.put_nowait(event)

    def subscribe(self, *types: type) -> EventSubscription:
        return EventSubscription(self, types)


class EventSubscription:
    def __init__(self, bus: EventBus, types: tuple[type, ...]):
        self._bus = bus
        self.queue: asyncio.Queue = asyncio.Queue()
        self._key = (types, self.queue)
        bus._subscribers.add(self._key)

    async def get(self) -> Any:
        return await self.queue.get()

    def close(self) -> None:
        self._bus._subscribers.discard(self._key)

    def __enter__(self) -> EventSubscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

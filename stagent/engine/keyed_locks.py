"""One asyncio.Lock per key (a conversation, a chat thread, a workflow), kept only while
someone holds or waits for it, so the map does not grow with every key ever used."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting; the entry is dropped at 0


class KeyedLocks:
    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if not entry.users and self._entries.get(key) is entry:
                del self._entries[key]

    def __len__(self) -> int:
        """How many keys are held or waited for now."""
        return len(self._entries)

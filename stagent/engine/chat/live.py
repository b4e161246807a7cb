"""The events of each reply in flight, kept while it is written, so a client that left (another
page, a reload, a dropped connection) can read the turn again from an event id and follow it.

One LiveReply per conversation while a turn runs (ConversationEngine.send opens it and closes
it when the turn ends). Readers sleep on an asyncio.Event until the next event: nothing polls.
A turn's events stay in memory only while it runs; afterwards its stored messages tell it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class LiveReply:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.finished = False
        self._changed = asyncio.Event()

    def add(self, event: dict) -> None:
        self.events.append(event)
        self._wake()

    def finish(self) -> None:
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, after: int = 0) -> AsyncIterator[dict]:
        """The events with an eventId above `after`, then each new one, until the turn ends."""
        index = 0
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event["eventId"] > after:
                    yield event
            if self.finished:
                return
            await self._changed.wait()


class LiveReplies:
    """conversation id -> the LiveReply of its turn in flight."""

    def __init__(self) -> None:
        self._replies: dict[str, LiveReply] = {}

    def open(self, conversation_id: str) -> LiveReply:
        reply = self._replies[conversation_id] = LiveReply()
        return reply

    def close(self, conversation_id: str, reply: LiveReply) -> None:
        reply.finish()
        if self._replies.get(conversation_id) is reply:
            del self._replies[conversation_id]

    def get(self, conversation_id: str) -> LiveReply | None:
        return self._replies.get(conversation_id)

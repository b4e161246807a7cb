"""Chat from a channel: a person's message on a bidirectional Slack or Telegram channel is a turn
of a conversation, and the reply goes back to the same channel (docs/decisions/007-channels.md).

Each (channel, thread) has its own conversation, found by its owner `channel:<id>:<thread>`.
Messages of one thread are answered in order; a reply that cannot be made (no provider, budget
reached) is answered with the reason, so the person is never left waiting in silence.
Telegram channels with `pollUpdates: true` are read by a background long-poll loop, for machines
Telegram's webhooks cannot reach.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from ..db import Database
from ..errors import ApiError
from ..store import channels as channel_store
from . import chat_tools
from .channels import ChannelDelivery
from .conversation import ConversationEngine
from .supervisor import Supervisor

log = logging.getLogger("stagent.channels")

POLL_TIMEOUT_SECONDS = 25   # Telegram holds a getUpdates call open this long when idle
POLL_IDLE_SECONDS = 1.0     # a server that answers an empty poll at once is not asked in a tight loop
POLL_ERROR_SECONDS = 30.0


def owner_of(channel_id: str, thread_id: str) -> str:
    return f"channel:{channel_id}:{thread_id}"


def polls(channel: dict) -> bool:
    return (channel["channelType"] == "telegram" and channel["direction"] == "bidirectional"
            and channel["status"] == "active" and channel["config"].get("pollUpdates") is True)


class ChannelChat:
    def __init__(self, db: Database, conversations: ConversationEngine, channels: ChannelDelivery, runner,
                 supervisor: Supervisor):
        self.db, self.conversations, self.channels = db, conversations, channels
        self.runner, self.supervisor = runner, supervisor
        self._threads: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def start(self) -> ChannelChat:
        self.channels.on_inbound = self.on_inbound
        await self.sync_pollers()
        return self

    async def on_inbound(self, event: dict) -> None:
        if event.get("direction") != "bidirectional" or event.get("channelType") not in ("slack", "telegram"):
            return
        owner = owner_of(event["channelId"], event.get("externalThreadId") or "main")
        async with self._threads[owner]:
            try:
                text = await self._answer(owner, event)
            except ApiError as exc:
                text = f"stagent could not answer: {exc.message}"
            except Exception:  # the person still gets an answer; the details are in the daemon log
                log.exception("channel %s: reply to inbound message %s failed", event["channelId"], event["id"])
                text = "stagent could not answer: an internal error occurred; see the daemon log."
        metadata = {"inboundId": event["id"]}
        if event["channelType"] == "telegram":
            metadata["chatId"] = event.get("externalThreadId")
        await self.channels.deliver([event["channelId"]], "", text, metadata=metadata, source="channel_chat")

    async def _answer(self, owner: str, event: dict) -> str:
        found = await self.conversations.list(owner=owner, mode="chat", limit=1)
        if found:
            conversation = found[0]
        else:
            sender = event.get("senderName") or event.get("senderId") or "someone"
            conversation = await self.conversations.create(
                mode="chat", owner=owner, title=f"{event['channelType'].capitalize()}: {sender}"[:200])
        context = chat_tools.ChatToolContext(self.db, self.runner, conversation)
        reply = await self.conversations.send(conversation["id"], event["text"], tools=chat_tools.TOOLS,
                                              tool_context=context, source="channel")
        return reply.content or "(no answer)"

    # ---- Telegram long polling ------------------------------------------------------------

    async def sync_pollers(self) -> None:
        """Start a poll loop for every channel that asks for one and stop the others."""
        wanted = {c["id"] for c in await channel_store.list_channels(self.db) if polls(c)}
        for name in self.supervisor.names("telegram-poll:"):
            if name.split(":", 1)[1] not in wanted:
                await self.supervisor.cancel(name)
        for channel_id in wanted:
            if not self.supervisor.running(f"telegram-poll:{channel_id}"):
                self.supervisor.start(f"telegram-poll:{channel_id}", self._poll_loop(channel_id))

    async def _poll_loop(self, channel_id: str) -> None:
        offset = None
        while True:
            try:
                result = await self.channels.poll_telegram(channel_id, offset, timeout=POLL_TIMEOUT_SECONDS)
            except ApiError as exc:
                log.warning("channel %s: Telegram poll failed: %s", channel_id, exc.message)
                await asyncio.sleep(POLL_ERROR_SECONDS)
                continue
            offset = result["nextOffset"]
            if not result["total"]:
                await asyncio.sleep(POLL_IDLE_SECONDS)

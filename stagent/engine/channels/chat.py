"""Chat from a channel: a person's message on a bidirectional Slack or Telegram channel is a turn
of a conversation, and the reply goes back to the same channel (docs/decisions/007-channels.md).

Only the channel's owner is answered (`may_chat`). Each (channel, thread) has its own conversation,
found by its owner `channel:<id>:<thread>`. Messages of one thread are answered in order; a reply
that cannot be made (no provider, budget reached) is answered with the reason, and a tool call
waiting for approval is announced, so the person is never left waiting in silence.
Telegram channels with `pollUpdates: true` are read by a background long-poll loop, for machines
Telegram's webhooks cannot reach.
"""

from __future__ import annotations

import asyncio
import logging

from ...db import Database
from ...errors import ApiError
from ...store import channels as channel_store
from ..chat import chat_tools
from ..chat.conversation import ConversationEngine
from ..keyed_locks import KeyedLocks
from ..supervisor import Supervisor
from .approvals import same_chat
from .delivery import ChannelDelivery

log = logging.getLogger("stagent.channels")

POLL_TIMEOUT_SECONDS = 25   # Telegram holds a getUpdates call open this long when idle
POLL_IDLE_SECONDS = 1.0     # a server that answers an empty poll at once is not asked in a tight loop
POLL_ERROR_SECONDS = 30.0


def owner_of(channel_id: str, thread_id: str) -> str:
    return f"channel:{channel_id}:{thread_id}"


def may_chat(channel: dict, event: dict) -> bool:
    """Only the channel's owner chats with the daemon: on Telegram the configured chat (a stranger
    who finds the bot is not answered), on Slack the senders listed in `allowedUserIds` (anyone in
    the workspace can post where the app listens)."""
    config = channel["config"]
    if channel["channelType"] == "telegram":
        return same_chat(config.get("chatId"), {"id": event.get("externalThreadId"),
                                                "username": event.get("chatUsername")})
    return event.get("senderId") in (config.get("allowedUserIds") or [])


def polls(channel: dict) -> bool:
    return (channel["channelType"] == "telegram" and channel["direction"] == "bidirectional"
            and channel["status"] == "active" and channel["config"].get("pollUpdates") is True)


class ChannelChat:
    def __init__(self, db: Database, conversations: ConversationEngine, channels: ChannelDelivery, runner,
                 supervisor: Supervisor):
        self.db, self.conversations, self.channels = db, conversations, channels
        self.runner, self.supervisor = runner, supervisor
        self._threads = KeyedLocks()  # one per chat thread: its messages are answered in turn

    async def start(self) -> ChannelChat:
        self.channels.handle_inbound(self.on_inbound)
        await self.sync_pollers()
        return self

    async def stop(self) -> None:
        """Stop every Telegram poll loop: nothing polls a channel once channels stop."""
        for name in self.supervisor.names("telegram-poll:"):
            await self.supervisor.cancel(name)

    async def on_inbound(self, event: dict) -> None:
        if event.get("direction") != "bidirectional" or event.get("channelType") not in ("slack", "telegram"):
            return
        channel = await channel_store.get_channel_raw(self.db, event["channelId"])
        if channel is None or not may_chat(channel, event):
            log.info("channel %s: message from %s not answered (not the channel's own chat or an allowed "
                     "sender)", event["channelId"], event.get("senderId"))
            return
        owner = owner_of(event["channelId"], event.get("externalThreadId") or "main")
        async with self._threads.hold(owner):
            try:
                text = await self._answer(owner, event)
            except ApiError as exc:
                text = f"stagent could not answer: {exc.message}"
            except Exception:  # the person still gets an answer; the details are in the daemon log
                log.exception("channel %s: reply to inbound message %s failed", event["channelId"], event["id"])
                text = "stagent could not answer: an internal error occurred; see the daemon log."
        await self._say(event, text)

    async def _say(self, event: dict, text: str) -> None:
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
        async def on_event(turn_event: dict) -> None:
            if turn_event.get("type") == "permission_request":  # the answer will take a while: say why
                await self._say(event, f"Waiting for your approval of {turn_event.get('toolName')}: answer it "
                                       "in the stagent inbox (or with this channel's buttons if it sends "
                                       "approval requests).")

        reply = await self.conversations.send(conversation["id"], event["text"], tools=chat_tools.CHAT_TOOLS,
                                              tool_context=context, source="channel", on_event=on_event)
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

"""Channel delivery: the queue of outbound messages, their retries and delivery rows, and the
hand-off of inbound messages and Telegram button presses to whoever handles them.

Invariant: a delivery row is committed `pending` before its first send, so a crash never loses
one; the daemon resumes pending rows at start-up. Each delivery is a supervised task
(`channel-delivery:<id>`) that sends, records the attempt, and retries transient failures
(network errors, 408/425/429/5xx) after `retry_delays`; other failures end it at once.
Only the test endpoint changes a channel's testStatus; deliveries keep their own status.
How a message is sent or an inbound payload read is transport.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import to_iso
from ...errors import Forbidden, Invalid
from ...store import channels as store
from ..supervisor import Supervisor
from . import transport
from .transport import Message, SendError

log = logging.getLogger("stagent.channels")

TEST_MESSAGE = ("Stagent channel test", "Connection OK: this channel can receive stagent messages.")

# ---- the delivery engine ---------------------------------------------------------------

InboundHook = Callable[[dict], Awaitable[None]]
CallbackQueryHook = Callable[[dict, dict], Awaitable[None]]  # (channel, Telegram callback_query)


class ChannelDelivery:
    def __init__(self, db: Database, supervisor: Supervisor, *,
                 retry_delays: tuple[float, ...] = (2.0, 8.0), timeout: float = 10.0,
                 concurrency: int = 8):
        self.db = db
        self.supervisor = supervisor
        self.retry_delays = tuple(retry_delays)  # attempts = 1 + len(retry_delays)
        self.timeout = timeout
        self.on_inbound: InboundHook | None = None  # ChannelChat's, once it has started
        self.on_callback_query: CallbackQueryHook | None = None  # ChannelApprovals', once started
        self._slots = asyncio.Semaphore(concurrency)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.timeout)),
                follow_redirects=False)
        return self._client

    def handle_inbound(self, hook: InboundHook) -> None:
        """Hand each new inbound message to `hook` (in the background)."""
        self.on_inbound = hook

    def handle_callback_queries(self, hook: CallbackQueryHook) -> None:
        """Hand each Telegram button press to `hook` (awaited)."""
        self.on_callback_query = hook

    async def start(self) -> int:
        """Resume the deliveries a stop or crash left pending; returns how many."""
        await store.list_channels(self.db)  # registers every channel secret for redaction (sanitize.py)
        ids = await store.pending_delivery_ids(self.db)
        for delivery_id in ids:
            self._spawn(delivery_id)
        return len(ids)

    async def stop(self) -> None:
        """Cancel the inbound hand-offs and the sends (pending rows resume at the next start),
        then close the HTTP client."""
        for prefix in ("channel-inbound:", "channel-delivery:"):
            for name in self.supervisor.names(prefix):
                await self.supervisor.cancel(name)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def deliver(self, channel_ids: list[str], subject: str, body: str, *,
                      metadata: dict | None = None, source: str | None = None,
                      format: str = "text") -> list[str]:
        """Record one delivery per channel (committed before any send), then send in the background.

        Unknown or disabled channels are recorded as failed with the reason and not sent to."""
        message = {"subject": subject, "body": body, "format": format, "metadata": metadata or {}}
        created = await store.create_deliveries(self.db, channel_ids, message, source)
        for delivery in created:
            if delivery["status"] == "pending":
                self._spawn(delivery["id"])
        return [d["id"] for d in created]

    async def recent_failures(self, since_iso: str) -> list[dict]:
        return await store.recent_failures(self.db, since_iso)

    def _spawn(self, delivery_id: str) -> None:
        name = f"channel-delivery:{delivery_id}"
        if not self.supervisor.running(name):
            self.supervisor.start(name, self._run(delivery_id))

    async def _run(self, delivery_id: str) -> None:
        while True:
            delivery = await store.get_delivery(self.db, delivery_id)
            if delivery is None or delivery["status"] != "pending":
                return
            wait = _seconds_until(delivery["nextAttemptAt"])
            if wait > 0:
                await asyncio.sleep(wait)
            channel = await store.get_channel_raw(self.db, delivery["channelId"])
            if channel is None or channel["status"] != "active":
                reason = "Channel not found" if channel is None else "Channel is disabled"
                await store.record_attempt(self.db, delivery_id, status="failed", error=reason, counted=False)
                return
            message = Message(delivery["subject"], delivery["body"], delivery["format"],
                              delivery["metadata"] or {}, delivery_id)
            error = await self._attempt(channel, message)
            attempts = delivery["attempts"] + 1
            if error is None:
                await store.record_attempt(self.db, delivery_id, status="delivered", error=None)
                return
            if not error.retryable or attempts > len(self.retry_delays):
                await store.record_attempt(self.db, delivery_id, status="failed", error=str(error))
                log.warning("delivery %s to channel %s failed: %s", delivery_id, channel["id"], error)
                return
            delay = max(self.retry_delays[attempts - 1], error.retry_after or 0)
            next_at = to_iso(datetime.now(UTC) + timedelta(seconds=delay))
            await store.record_attempt(self.db, delivery_id, status="pending", error=str(error),
                                       next_attempt_at=next_at)

    async def _attempt(self, channel: dict, message: Message) -> SendError | None:
        try:
            async with self._slots:
                await transport.send(self.client, channel, message)
        except SendError as exc:
            return exc
        except Exception as exc:  # an adapter bug must end the delivery, not leave it pending forever
            log.exception("channel adapter failed")
            return SendError(transport.redact(f"Internal error: {exc}", channel["config"]), retryable=False)
        return None

    # ---- the test endpoint ---------------------------------------------------------------

    async def test(self, channel_id: str) -> str | None:
        """Send one test message (no retries), store testStatus; returns the error or None."""
        channel = await store.get_channel_raw(self.db, channel_id)
        if channel is None:
            raise store.channel_not_found()
        error = await self._attempt(channel, Message(*TEST_MESSAGE, metadata={"test": True}))
        await store.set_test_status(self.db, channel_id, "failed" if error else "ok")
        return None if error is None else str(error)

    # ---- inbound ------------------------------------------------------------------------

    async def receive(self, channel: dict, message: dict) -> bool:
        """Store an inbound message once and hand it to `on_inbound`; False for a duplicate."""
        inbound_id = await store.store_inbound(self.db, channel["id"], message)
        if inbound_id is None:
            return False
        hook = self.on_inbound
        if hook is not None:
            event = {key: value for key, value in message.items() if key != "raw"}
            event.update(id=inbound_id, channelId=channel["id"], channelType=channel["channelType"],
                         direction=channel["direction"])
            # In the background: Slack wants its answer within 3 s.
            self.supervisor.start(f"channel-inbound:{inbound_id}", hook(event))
        return True

    async def receive_telegram(self, channel: dict, update: dict) -> bool:
        """One Telegram update: a button press goes to `on_callback_query`, a person's text
        message to `receive`. False when nothing took it."""
        query = update.get("callback_query")
        if isinstance(query, dict):
            if self.on_callback_query is None:
                return False
            await self.on_callback_query(channel, query)
            return True
        message = transport.parse_telegram_update(update)
        return message is not None and await self.receive(channel, message)

    async def answer_callback_query(self, channel: dict, query_id: str, text: str) -> None:
        """Stop the pressed button's spinner and show `text` (best effort, no retries)."""
        await transport.answer_callback_query(self.client, channel["config"], query_id, text)

    async def poll_telegram(self, channel_id: str, offset: int | None, *, timeout: int = 0) -> dict:
        """One getUpdates round for a Telegram channel (held open up to `timeout` s while there is
        nothing); confirms what it read."""
        channel = await store.get_channel_raw(self.db, channel_id)
        if channel is None:
            raise store.channel_not_found()
        if channel["channelType"] != "telegram":
            raise Invalid("Channel is not a Telegram channel")
        if channel["status"] != "active":
            raise Forbidden("Channel is not active")
        config = channel["config"]
        updates = await transport.get_updates(self.client, config, offset, timeout=timeout,
                                              request_timeout=self.timeout)
        if not updates:
            return {"processed": 0, "total": 0, "nextOffset": offset}
        processed = 0
        for update in updates:
            if await self.receive_telegram(channel, update):
                processed += 1
        next_offset = max(u["update_id"] for u in updates) + 1
        await transport.confirm_updates(self.client, config, next_offset)
        return {"processed": processed, "total": len(updates), "nextOffset": next_offset}


def _seconds_until(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()

"""Channel delivery (Slack, Telegram, webhooks) and inbound messages from Slack and Telegram.

Invariant: a delivery row is committed `pending` before its first send, so a crash never loses
one; the daemon resumes pending rows at start-up. Each delivery is a supervised task
(`channel-delivery:<id>`) that sends, records the attempt, and retries transient failures
(network errors, 408/425/429/5xx) after `retry_delays`; other failures end it at once.
Only the test endpoint changes a channel's testStatus; deliveries keep their own status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ... import __version__
from ...db import Database
from ...db.rows import to_iso
from ...errors import Forbidden, Invalid, UpstreamError
from ...store import channels as store
from ..supervisor import Supervisor

log = logging.getLogger("stagent.channels")

TELEGRAM_API = "https://api.telegram.org"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
SLACK_MAX_SKEW = 300  # seconds between Slack's request timestamp and our clock
SIGNATURE_MAX_SKEW = 300  # the same for X-Stagent-Timestamp on a signed callback
TEST_MESSAGE = ("Stagent channel test", "Connection OK: this channel can receive stagent messages.")


@dataclass
class Message:
    subject: str
    body: str
    format: str = "text"  # "text" | "markdown"
    metadata: dict = field(default_factory=dict)
    delivery_id: str | None = None  # sent to webhooks so a receiver can drop a repeat


class SendError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


# ---- adapters --------------------------------------------------------------------------

def sign(secret: str, raw: bytes) -> str:
    """The X-Stagent-Signature value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str | None, signature: str | None, raw: bytes,
                     now: float | None = None) -> bool:
    """A signed callback, in the scheme our webhooks send: `sign(secret, raw)` and a unix-seconds
    X-Stagent-Timestamp within ±5 minutes (constant-time compare)."""
    if not _unix_seconds(timestamp) or not signature:
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > SIGNATURE_MAX_SKEW:
        return False
    return hmac.compare_digest(sign(secret, raw).encode(), signature.encode())


def _unix_seconds(value: str | None) -> bool:
    # isdigit alone accepts '²' (a latin-1 header byte), which int() refuses.
    return bool(value) and value.isascii() and value.isdigit()


def _text(message: Message) -> str:
    subject = f"*{message.subject}*" if message.format == "markdown" and message.subject else message.subject
    return "\n\n".join(part for part in (subject, message.body) if part)


TELEGRAM_MAX_TEXT = 4096
TRUNCATED = "\n… (truncated; the whole text is in stagent)"


def _request(channel_type: str, config: dict, message: Message) -> tuple[str, dict, bytes]:
    """(url, headers, body bytes) of the one POST that delivers this message."""
    headers = {"User-Agent": f"stagent/{__version__}", "Content-Type": "application/json"}
    if channel_type == "webhook":
        payload = {"subject": message.subject, "body": message.body, "format": message.format,
                   "metadata": message.metadata, "timestamp": to_iso(datetime.now(UTC)),
                   "source": "stagent"}
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers.update(config.get("headers") or {})
        if message.delivery_id:
            headers["X-Stagent-Delivery"] = message.delivery_id
        if config.get("secret"):
            headers["X-Stagent-Signature"] = sign(config["secret"], raw)
            headers["X-Stagent-Timestamp"] = str(int(time.time()))
        return config["url"], headers, raw
    if channel_type == "slack":
        return config["webhookUrl"], headers, json.dumps({"text": _text(message)}).encode()
    if channel_type == "telegram":
        url = f"{_telegram_base(config)}/bot{config['botToken']}/sendMessage"
        text = _text(message)
        if len(text) > TELEGRAM_MAX_TEXT:  # Telegram refuses longer messages outright (400)
            text = text[:TELEGRAM_MAX_TEXT - len(TRUNCATED)] + TRUNCATED
        payload = {"chat_id": message.metadata.get("chatId") or config["chatId"], "text": text}
        if message.metadata.get("replyMarkup"):  # inline buttons (channel_approvals)
            payload["reply_markup"] = message.metadata["replyMarkup"]
        return url, headers, json.dumps(payload).encode()
    raise SendError(f"Unknown channel type: {channel_type}", retryable=False)


def _telegram_base(config: dict) -> str:
    return str(config.get("apiBase") or TELEGRAM_API).rstrip("/")


def _redact(text: str, config: dict) -> str:
    """Errors are stored and shown: never let a bot token (it sits in the URL) leak into one."""
    for key in ("botToken", "secret", "webhookUrl"):
        value = config.get(key)
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, store.mask_secret(value))
    return text


def _retry_after(response) -> float | None:
    try:
        return min(float(response.headers.get("retry-after", "")), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _check(channel_type: str, response) -> None:
    status = response.status_code
    label = {"slack": "Slack", "telegram": "Telegram"}.get(channel_type, "Webhook")
    if 300 <= status < 400:
        raise SendError(f"{label} answered with a redirect ({status}); redirects are not followed",
                        retryable=False)
    if status >= 400:
        detail = response.text[:200].strip()
        raise SendError(f"{label} returned {status}" + (f": {detail}" if detail else ""),
                        retryable=status in RETRYABLE_STATUS, retry_after=_retry_after(response))
    if channel_type == "telegram":
        try:
            data = response.json()
        except ValueError:
            raise SendError("Telegram answered with something that is not JSON", retryable=True) from None
        if not isinstance(data, dict) or not data.get("ok"):
            description = data.get("description") if isinstance(data, dict) else None
            raise SendError(description or "Telegram sendMessage failed", retryable=False)


async def send(client, channel: dict, message: Message) -> None:
    """Deliver once through the channel's adapter; raises SendError with a redacted message."""
    import httpx

    config = channel["config"]
    url, headers, raw = _request(channel["channelType"], config, message)
    try:
        response = await client.post(url, headers=headers, content=raw)
    except httpx.InvalidURL as exc:
        raise SendError(_redact(f"Invalid URL: {exc}", config), retryable=False) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise SendError(_redact(f"Could not reach {channel['channelType']}: {reason}", config),
                        retryable=True) from None
    try:
        _check(channel["channelType"], response)
    except SendError as exc:
        raise SendError(_redact(str(exc), config), retryable=exc.retryable,
                        retry_after=exc.retry_after) from None


# ---- inbound ---------------------------------------------------------------------------

def verify_slack_signature(secret: str, timestamp: str | None, signature: str | None,
                           raw: bytes, now: float | None = None) -> bool:
    """Slack's `v0` scheme: HMAC-SHA256 over `v0:<ts>:<body>`, timestamp within ±5 minutes."""
    if not _unix_seconds(timestamp) or not signature:
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > SLACK_MAX_SKEW:
        return False
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def parse_slack_event(payload: dict) -> dict | None:
    """A user's message from an `event_callback`; None for anything else (bots, edits, joins)."""
    event = payload.get("event")
    if payload.get("type") != "event_callback" or not isinstance(event, dict):
        return None
    if event.get("type") != "message" or event.get("bot_id") or event.get("subtype"):
        return None
    text, ts = event.get("text"), event.get("ts")
    if not isinstance(text, str) or not text or not isinstance(ts, str):
        return None
    return {"text": text, "senderId": event.get("user"), "senderName": event.get("user"),
            "externalThreadId": event.get("thread_ts") or ts,
            "externalMessageId": f"{event.get('channel')}:{ts}", "raw": payload}


def parse_telegram_update(update: dict) -> dict | None:
    """A person's text message from a Telegram update; None for bots and non-text updates."""
    message = update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if sender.get("is_bot") or chat.get("id") is None or message.get("message_id") is None:
        return None
    name = " ".join(str(sender[k]) for k in ("first_name", "last_name") if sender.get(k)) or None
    return {"text": message["text"], "senderId": _str(sender.get("id")),
            "senderName": name or sender.get("username"), "externalThreadId": str(chat["id"]),
            "chatUsername": chat.get("username"),
            "externalMessageId": f"{chat['id']}:{message['message_id']}", "raw": update}


def _str(value) -> str | None:
    return None if value is None else str(value)


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
        # Set by the conversation work: called with each new inbound message.
        self.on_inbound: InboundHook | None = None
        # Set by channel_approvals: called with a Telegram button press (awaited).
        self.on_callback_query: CallbackQueryHook | None = None
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

    async def start(self) -> int:
        """Resume the deliveries a stop or crash left pending; returns how many."""
        ids = await store.pending_delivery_ids(self.db)
        for delivery_id in ids:
            self._spawn(delivery_id)
        return len(ids)

    async def stop(self) -> None:
        for name in self.supervisor.names("channel-delivery:"):
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
                await send(self.client, channel, message)
        except SendError as exc:
            return exc
        except Exception as exc:  # an adapter bug must end the delivery, not leave it pending forever
            log.exception("channel adapter failed")
            return SendError(_redact(f"Internal error: {exc}", channel["config"]), retryable=False)
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
        message = parse_telegram_update(update)
        return message is not None and await self.receive(channel, message)

    async def answer_callback_query(self, channel: dict, query_id: str, text: str) -> None:
        """Stop the pressed button's spinner and show `text` (best effort, no retries)."""
        import httpx

        config = channel["config"]
        url = f"{_telegram_base(config)}/bot{config['botToken']}/answerCallbackQuery"
        try:
            await self.client.post(url, json={"callback_query_id": query_id, "text": text[:200]})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("answerCallbackQuery failed: %s", _redact(str(exc), config))

    async def poll_telegram(self, channel_id: str, offset: int | None, *, timeout: int = 0) -> dict:
        """One getUpdates round for a Telegram channel (held open up to `timeout` s while there is
        nothing); confirms what it read."""
        import httpx

        channel = await store.get_channel_raw(self.db, channel_id)
        if channel is None:
            raise store.channel_not_found()
        if channel["channelType"] != "telegram":
            raise Invalid("Channel is not a Telegram channel")
        if channel["status"] != "active":
            raise Forbidden("Channel is not active")
        config = channel["config"]
        url = f"{_telegram_base(config)}/bot{config['botToken']}/getUpdates"
        params: dict[str, Any] = {"timeout": timeout}
        if offset is not None:
            params["offset"] = offset
        try:
            response = await self.client.post(url, json=params, timeout=self.timeout + timeout)
            data = response.json()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise UpstreamError(_redact(f"Telegram getUpdates failed: {exc}", config)) from None
        if not isinstance(data, dict) or not data.get("ok") or not isinstance(data.get("result"), list):
            description = data.get("description") if isinstance(data, dict) else None
            raise UpstreamError(_redact(f"Telegram getUpdates failed: {description or response.status_code}",
                                        config))
        updates = [u for u in data["result"] if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        if not updates:
            return {"processed": 0, "total": 0, "nextOffset": offset}
        processed = 0
        for update in updates:
            if await self.receive_telegram(channel, update):
                processed += 1
        next_offset = max(u["update_id"] for u in updates) + 1
        try:  # confirm, so Telegram stops returning them; a failure only means a re-read (deduplicated)
            await self.client.post(url, json={"offset": next_offset, "timeout": 0})
        except httpx.HTTPError:
            pass
        return {"processed": processed, "total": len(updates), "nextOffset": next_offset}


def _seconds_until(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()

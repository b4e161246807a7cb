"""Channel transport: how a message reaches Slack, Telegram or a webhook, and how an inbound
payload from them is read. No delivery state lives here (that is delivery.py: rows, retries).

Invariant: nothing secret leaves this module in an error: every SendError/UpstreamError message
is redacted (bot tokens sit in Telegram URLs). Signatures are checked in constant time and only
within a ±5 minute window of the sender's timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ... import __version__
from ...db.rows import to_iso
from ...errors import UpstreamError
from ...store import channels as store

log = logging.getLogger("stagent.channels")

TELEGRAM_API = "https://api.telegram.org"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
SLACK_MAX_SKEW = 300  # seconds between Slack's request timestamp and our clock
SIGNATURE_MAX_SKEW = 300  # the same for X-Stagent-Timestamp on a signed callback


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


# ---- sending ---------------------------------------------------------------------------

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


def redact(text: str, config: dict) -> str:
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
        raise SendError(redact(f"Invalid URL: {exc}", config), retryable=False) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise SendError(redact(f"Could not reach {channel['channelType']}: {reason}", config),
                        retryable=True) from None
    try:
        _check(channel["channelType"], response)
    except SendError as exc:
        raise SendError(redact(str(exc), config), retryable=exc.retryable,
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


# ---- Telegram calls besides sendMessage -------------------------------------------------

async def answer_callback_query(client, config: dict, query_id: str, text: str) -> None:
    """Stop the pressed button's spinner and show `text` (best effort, no retries)."""
    import httpx

    url = f"{_telegram_base(config)}/bot{config['botToken']}/answerCallbackQuery"
    try:
        await client.post(url, json={"callback_query_id": query_id, "text": text[:200]})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        log.warning("answerCallbackQuery failed: %s", redact(str(exc), config))


async def get_updates(client, config: dict, offset: int | None, *, timeout: int,
                      request_timeout: float) -> list[dict]:
    """One getUpdates call, held open up to `timeout` s while there is nothing: the updates that
    carry an update_id. UpstreamError when Telegram cannot be read."""
    import httpx

    url = f"{_telegram_base(config)}/bot{config['botToken']}/getUpdates"
    params: dict[str, Any] = {"timeout": timeout}
    if offset is not None:
        params["offset"] = offset
    try:
        response = await client.post(url, json=params, timeout=request_timeout + timeout)
        data = response.json()
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise UpstreamError(redact(f"Telegram getUpdates failed: {exc}", config)) from None
    if not isinstance(data, dict) or not data.get("ok") or not isinstance(data.get("result"), list):
        description = data.get("description") if isinstance(data, dict) else None
        raise UpstreamError(redact(f"Telegram getUpdates failed: {description or response.status_code}",
                                   config))
    return [u for u in data["result"] if isinstance(u, dict) and isinstance(u.get("update_id"), int)]


async def confirm_updates(client, config: dict, next_offset: int) -> None:
    """Confirm the updates read, so Telegram stops returning them; a failure only means they are
    read again (the inbound store drops repeats)."""
    import httpx

    url = f"{_telegram_base(config)}/bot{config['botToken']}/getUpdates"
    try:
        await client.post(url, json={"offset": next_offset, "timeout": 0})
    except httpx.HTTPError:
        pass

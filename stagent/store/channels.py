"""Channels: configs (secrets masked on every read), outbound deliveries, inbound messages.

A config keeps its secrets in plain text (the daemon must send with them); every dict this
module hands to the API is masked. `get_channel_raw` is for the delivery engine only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Invalid, NotFound
from ..sanitize import remember_secret

CHANNEL_TYPES = ("slack", "telegram", "webhook")
STATUSES = ("active", "disabled")
DIRECTIONS = ("outbound", "bidirectional")
TEST_STATUSES = ("untested", "ok", "failed")

SECRET_KEYS = frozenset({"botToken", "signingSecret", "webhookSecret", "secret"})
# A Slack incoming-webhook URL is itself the credential: whoever has it can post.
SECRET_URL_KEYS = {"slack": "webhookUrl"}
_SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|signature|password|cookie", re.I)
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                               "content-type", "x-stagent-signature", "x-stagent-timestamp",
                               "x-stagent-delivery"})
# The API documents these same patterns (api/channels.py), so what its schema refuses, we refuse.
URL_PATTERN = r"^https?://[^\s/?#]+(?:[/?#]\S*)?$"
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE_PATTERN = r"^[\t\x20-\x7e]*$"  # printable ASCII: what HTTP/1.1 can carry as-is
TELEGRAM_TOKEN_PATTERN = r"^[A-Za-z0-9:_-]+$"
_URL = re.compile(URL_PATTERN)
_HEADER_NAME = re.compile(HEADER_NAME_PATTERN)
_HEADER_VALUE = re.compile(HEADER_VALUE_PATTERN)
_TELEGRAM_TOKEN = re.compile(TELEGRAM_TOKEN_PATTERN)
_MASK = "****"


def channel_not_found() -> NotFound:
    return NotFound("Channel not found")


# ---- masking ---------------------------------------------------------------------------

def mask_secret(value) -> str:
    text = str(value)
    return _MASK + text[-4:] if len(text) >= 8 else _MASK  # short secrets reveal nothing


def mask_url(value) -> str:
    parts = urlsplit(str(value))
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}/{mask_secret(value)}"


def _maskers(channel_type: str, config: dict) -> dict:
    """key -> masking function for every secret value of this config (headers: 'headers.<name>')."""
    maskers = {key: mask_secret for key in SECRET_KEYS if key in config}
    url_key = SECRET_URL_KEYS.get(channel_type)
    if url_key in config:
        maskers[url_key] = mask_url
    headers = config.get("headers")
    if isinstance(headers, dict):
        for name in headers:
            if _SENSITIVE_HEADER.search(name):
                maskers[f"headers.{name}"] = mask_secret
    return maskers


def mask_config(channel_type: str, config: dict) -> dict:
    masked = dict(config)
    if isinstance(config.get("headers"), dict):
        masked["headers"] = dict(config["headers"])
    for key, mask in _maskers(channel_type, config).items():
        if key.startswith("headers."):
            name = key[len("headers."):]
            masked["headers"][name] = mask(config["headers"][name])
        elif config[key] is not None:
            masked[key] = mask(config[key])
    return masked


def _keep_if_masked(field: str, sent, stored, mask) -> object:
    """The UI sends back what it got: a masked value equal to the stored one's mask keeps it."""
    if not isinstance(sent, str) or _MASK not in sent:
        return sent
    if stored is not None and sent == mask(stored):
        return stored
    raise Invalid("Validation failed", form_errors=[], field_errors={
        "config": [f"{field} is masked; send the full value to change it"]})


def merge_config(channel_type: str, stored: dict, sent: dict) -> dict:
    """PATCH semantics: sent keys replace stored ones, `null` removes a key, masked values keep theirs."""
    maskers = _maskers(channel_type, stored)
    merged = dict(stored)
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        elif key == "headers" and isinstance(value, dict):
            old = stored.get("headers") if isinstance(stored.get("headers"), dict) else {}
            merged[key] = {name: _keep_if_masked(f"headers.{name}", v, old.get(name),
                                                 maskers.get(f"headers.{name}", mask_secret))
                           for name, v in value.items()}
        elif key in maskers or key in SECRET_KEYS or key == SECRET_URL_KEYS.get(channel_type):
            merged[key] = _keep_if_masked(key, value, stored.get(key), maskers.get(key, mask_secret))
        else:
            merged[key] = value
    return merged


# ---- validation ------------------------------------------------------------------------

def _http_url(value) -> bool:
    if not isinstance(value, str) or len(value) > 2048 or not _URL.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def config_errors(channel_type: str, config: dict) -> list[str]:
    """What is wrong with a complete config of this type (empty when it is valid)."""
    errors = []
    if channel_type == "slack":
        if not config.get("webhookUrl"):
            errors.append("Slack channels require a webhookUrl")
        elif not _http_url(config["webhookUrl"]):
            errors.append("webhookUrl must be an http(s) URL")
        allowed = config.get("allowedUserIds", [])
        if not isinstance(allowed, list) or not all(isinstance(u, str) and u.strip() for u in allowed) \
                or len(allowed) > 100:
            errors.append("allowedUserIds must be a list of at most 100 Slack user ids (e.g. [\"U024BE7LH\"])")
    elif channel_type == "telegram":
        if not config.get("botToken") or config.get("chatId") in (None, ""):
            errors.append("Telegram channels require botToken and chatId")
        elif not isinstance(config["botToken"], str) or not _TELEGRAM_TOKEN.fullmatch(config["botToken"]):
            errors.append("botToken must look like 123456:ABC-DEF (letters, digits, ':', '_', '-')")
        chat_id = config.get("chatId")
        if chat_id not in (None, "") and (isinstance(chat_id, bool) or not isinstance(chat_id, (str, int))):
            errors.append("chatId must be a string or an integer")
        if "apiBase" in config and not _http_url(config["apiBase"]):
            errors.append("apiBase must be an http(s) URL")
        if "pollUpdates" in config and not isinstance(config["pollUpdates"], bool):
            errors.append("pollUpdates must be true or false")
    elif channel_type == "webhook":
        if not config.get("url"):
            errors.append("Webhook channels require a url")
        elif not _http_url(config["url"]):
            errors.append("url must be an http(s) URL")
        errors += _header_errors(config.get("headers", {}))
    for key in SECRET_KEYS:
        if key in config and not _text(config[key]):
            errors.append(f"{key} must be a non-empty string")
    return errors


def _header_errors(headers) -> list[str]:
    if not isinstance(headers, dict):
        return ["headers must be an object of header names to string values"]
    errors = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            errors.append(f"headers: '{name}' is not a header you can set")
        elif not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
            errors.append(f"headers: the value of '{name}' must be one line of printable ASCII")
    return errors


def validate_config(channel_type: str, config: dict) -> None:
    errors = config_errors(channel_type, config)
    if errors:
        raise Invalid("Validation failed", form_errors=[], field_errors={"config": errors})


# ---- channel configs -------------------------------------------------------------------

def remember_secrets(channel_type: str, config: dict) -> None:
    """Register the config's secrets for redaction (sanitize.py): a provider error that echoes
    one must not carry it into a result or a log."""
    for key in _maskers(channel_type, config):
        if key.startswith("headers."):
            remember_secret(config["headers"][key[len("headers."):]])
        else:
            remember_secret(config[key])


def _channel(row, *, masked: bool = True) -> dict:
    channel = row_to_dict(row)
    config = loads(channel["config"], {})
    remember_secrets(channel["channelType"], config)
    channel["config"] = mask_config(channel["channelType"], config) if masked else config
    return channel


async def list_channels(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM channel_configs ORDER BY created_at DESC, rowid DESC")
    return [_channel(r) for r in rows]


async def get_channel(db: Database, channel_id: str) -> dict:
    return _channel(await _require(db, channel_id))


async def get_channel_raw(db: Database, channel_id: str) -> dict | None:
    """Unmasked, for sending. None when the channel does not exist."""
    row = await db.fetchone("SELECT * FROM channel_configs WHERE id = ?", (channel_id,))
    return None if row is None else _channel(row, masked=False)


async def _require(db: Database, channel_id: str):
    row = await db.fetchone("SELECT * FROM channel_configs WHERE id = ?", (channel_id,))
    if row is None:
        raise channel_not_found()
    return row


async def require_ids(db: Database, channel_ids: list[str]) -> None:
    """Invalid unless every id names a channel (schedules and the heartbeat deliver to them)."""
    marks = ",".join("?" * len(channel_ids))
    known = {r[0] for r in await db.fetchall(f"SELECT id FROM channel_configs WHERE id IN ({marks})", channel_ids)}
    missing = [c for c in channel_ids if c not in known]
    if missing:
        raise Invalid(f"Unknown delivery channel: {', '.join(missing)}")


async def create_channel(db: Database, fields: dict) -> dict:
    validate_config(fields["channel_type"], fields["config"])
    channel_id, now = new_id(), now_iso()

    def insert(conn):
        conn.execute(
            "INSERT INTO channel_configs (id, channel_type, name, config, status, test_status, direction, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'active', 'untested', ?, ?, ?)",
            (channel_id, fields["channel_type"], fields["name"], dumps(fields["config"]),
             fields.get("direction") or "outbound", now, now))
        return conn.execute("SELECT * FROM channel_configs WHERE id = ?", (channel_id,)).fetchone()

    return _channel(await db.write(insert))


async def update_channel(db: Database, channel_id: str, fields: dict) -> dict:
    def update(conn):
        row = conn.execute("SELECT * FROM channel_configs WHERE id = ?", (channel_id,)).fetchone()
        if row is None:
            raise channel_not_found()
        changes = {k: fields[k] for k in ("name", "status", "direction") if k in fields}
        if "config" in fields:
            stored = loads(row["config"], {})
            config = merge_config(row["channel_type"], stored, fields["config"])
            validate_config(row["channel_type"], config)
            if config != stored:  # a round-tripped, unchanged config keeps its test result
                changes["config"] = dumps(config)
                changes["test_status"] = "untested"
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE channel_configs SET {sets}, updated_at = ? WHERE id = ?",
                         (*changes.values(), now_iso(), channel_id))
        return conn.execute("SELECT * FROM channel_configs WHERE id = ?", (channel_id,)).fetchone()

    return _channel(await db.write(update))


async def delete_channel(db: Database, channel_id: str) -> None:
    def delete(conn):
        if conn.execute("DELETE FROM channel_configs WHERE id = ?", (channel_id,)).rowcount == 0:
            raise channel_not_found()
        conn.execute("DELETE FROM channel_deliveries WHERE channel_id = ?", (channel_id,))

    await db.write(delete)


async def set_test_status(db: Database, channel_id: str, test_status: str) -> None:
    await db.execute("UPDATE channel_configs SET test_status = ?, updated_at = ? WHERE id = ?",
                     (test_status, now_iso(), channel_id))


# ---- outbound deliveries ---------------------------------------------------------------

def _delivery(row) -> dict:
    delivery = row_to_dict(row)
    delivery["metadata"] = loads(delivery["metadata"])
    return delivery


async def create_deliveries(db: Database, channel_ids: list[str], message: dict,
                            source: str | None) -> list[dict]:
    """One row per channel, in one transaction: pending, or failed at once with the reason."""

    def insert(conn):
        now, created = now_iso(), []
        for channel_id in dict.fromkeys(channel_ids):
            row = conn.execute("SELECT status FROM channel_configs WHERE id = ?", (channel_id,)).fetchone()
            error = ("Channel not found" if row is None
                     else "Channel is disabled" if row["status"] != "active" else None)
            delivery = {"id": new_id(), "channel_id": channel_id, "subject": message["subject"],
                        "body": message["body"], "format": message["format"],
                        "metadata": dumps(message.get("metadata")),
                        "status": "failed" if error else "pending", "last_error": error,
                        "next_attempt_at": None if error else now, "source": source,
                        "created_at": now, "updated_at": now}
            conn.execute(f"INSERT INTO channel_deliveries ({', '.join(delivery)}) "
                         f"VALUES ({', '.join('?' * len(delivery))})", tuple(delivery.values()))
            created.append({"id": delivery["id"], "status": delivery["status"]})
        return created

    return await db.write(insert)


async def get_delivery(db: Database, delivery_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM channel_deliveries WHERE id = ?", (delivery_id,))
    return None if row is None else _delivery(row)


async def pending_delivery_ids(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT id FROM channel_deliveries WHERE status = 'pending' "
                             "ORDER BY next_attempt_at")
    return [r[0] for r in rows]


async def record_attempt(db: Database, delivery_id: str, *, status: str, error: str | None,
                         next_attempt_at: str | None = None, counted: bool = True) -> None:
    """One send attempt's outcome: delivered, failed for good, or pending until next_attempt_at."""
    now = now_iso()
    await db.execute(
        "UPDATE channel_deliveries SET status = ?, attempts = attempts + ?, last_error = ?, "
        "next_attempt_at = ?, delivered_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
        (status, 1 if counted else 0, error, next_attempt_at,
         now if status == "delivered" else None, now, delivery_id))


async def list_deliveries(db: Database, channel_id: str, limit: int = 50) -> list[dict]:
    await _require(db, channel_id)
    rows = await db.fetchall("SELECT * FROM channel_deliveries WHERE channel_id = ? "
                             "ORDER BY created_at DESC, rowid DESC LIMIT ?", (channel_id, limit))
    return [_delivery(r) for r in rows]


async def sent_request(db: Database, channel_id: str, notification_id: str) -> bool:
    """Whether a permission request (delivery source `permission_request`) went to this channel:
    a channel may answer only the requests it was sent."""
    return bool(await db.scalar(
        "SELECT 1 FROM channel_deliveries WHERE channel_id = ? AND source = 'permission_request' "
        "AND json_extract(metadata, '$.notificationId') = ? LIMIT 1", (channel_id, notification_id)))


async def recent_failures(db: Database, since_iso: str) -> list[dict]:
    """Deliveries that failed for good since the given time, newest first, with their channel."""
    rows = await db.fetchall(
        "SELECT d.*, c.name AS channel_name, c.channel_type FROM channel_deliveries d "
        "LEFT JOIN channel_configs c ON c.id = d.channel_id "
        "WHERE d.status = 'failed' AND d.updated_at >= ? ORDER BY d.updated_at DESC", (since_iso,))
    return [_delivery(r) for r in rows]


# ---- inbound messages ------------------------------------------------------------------

async def store_inbound(db: Database, channel_id: str, message: dict) -> str | None:
    """Record one inbound message; None when it was already recorded (a retried webhook)."""
    inbound_id = new_id()
    inserted = await db.execute(
        "INSERT OR IGNORE INTO channel_inbound (id, channel_id, external_message_id, external_thread_id, "
        "sender_id, sender_name, text, raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (inbound_id, channel_id, message["externalMessageId"], message.get("externalThreadId"),
         message.get("senderId"), message.get("senderName"), message["text"],
         dumps(message.get("raw")), now_iso()))
    return inbound_id if inserted else None


async def list_inbound(db: Database, channel_id: str, limit: int = 50) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM channel_inbound WHERE channel_id = ? "
                             "ORDER BY created_at DESC, rowid DESC LIMIT ?", (channel_id, limit))
    return [dict(row_to_dict(r), raw=loads(r["raw"])) for r in rows]

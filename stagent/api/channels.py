"""/api/channels: 9 endpoints, plus GET /api/channels/{id}/deliveries and the signed
POST /api/channels/{id}/callback (a webhook channel's decision on a permission request).

The inbound routes and the callback are called by Slack, Telegram and the user's own systems,
not by a browser: they carry no API key, and the signing secret / webhook secret is their
authentication.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema
from starlette.routing import Route

from ..db.rows import loads
from ..engine.channels.approvals import ACTIONS, require_decisions
from ..engine.channels.transport import parse_slack_event, verify_signature, verify_slack_signature
from ..errors import Forbidden, Invalid, Unauthorized
from ..store import channels as store
from ._http import Body, Int, Out, endpoint, ok, read_body

ChannelType = Literal["slack", "telegram", "webhook"]
Status = Literal["active", "disabled"]
Direction = Literal["outbound", "bidirectional"]

# The documented shape of `config` per channel type. Validation is store.validate_config, which
# refuses everything this schema refuses (same patterns), with one message per problem.
_URL = {"type": "string", "maxLength": 2048, "pattern": store.URL_PATTERN}
_SECRET = {"type": "string", "minLength": 1, "pattern": r"\S"}
CONFIG_SCHEMA = {"anyOf": [
    {"title": "SlackConfig", "type": "object", "required": ["webhookUrl"],
     "properties": {"webhookUrl": _URL, "signingSecret": _SECRET, "botToken": _SECRET,
                    "allowedUserIds": {"type": "array", "items": {"type": "string", "pattern": r"\S"},
                                       "maxItems": 100}}},
    {"title": "TelegramConfig", "type": "object", "required": ["botToken", "chatId"],
     "properties": {"botToken": {"type": "string", "pattern": store.TELEGRAM_TOKEN_PATTERN},
                    "chatId": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
                    "webhookSecret": _SECRET, "apiBase": _URL,
                    "pollUpdates": {"type": "boolean"}}},
    {"title": "WebhookConfig", "type": "object", "required": ["url"],
     "properties": {"url": _URL, "secret": _SECRET,
                    "headers": {"type": "object",
                                "propertyNames": {"pattern": store.HEADER_NAME_PATTERN},
                                "additionalProperties": {"type": "string",
                                                         "pattern": store.HEADER_VALUE_PATTERN}}}},
]}
ChannelConfig = Annotated[dict, WithJsonSchema(CONFIG_SCHEMA)]


class ChannelCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    channel_type: ChannelType
    config: ChannelConfig
    direction: Direction = "outbound"


class ChannelUpdate(Body):
    # Optional, but never null: these columns cannot be empty.
    name: str = Field(default=None, min_length=1, max_length=100)
    config: dict = None
    status: Status = None
    direction: Direction = None


class InboundQuery(Body):
    config_id: str


class TelegramQuery(InboundQuery):
    secret: str | None = None


class PollBody(Body):
    offset: Int | None = Field(default=None, ge=0)


class CallbackIn(Body):
    notification_id: str = Field(min_length=1, max_length=100)
    action: Literal[ACTIONS]
    message: str | None = Field(default=None, max_length=2000)  # told to the model on deny


class ChannelOut(Out):
    id: str
    channelType: ChannelType
    name: str
    config: dict
    status: Status
    testStatus: Literal["untested", "ok", "failed"]
    direction: Direction
    createdAt: str
    updatedAt: str


class DeletedOut(Out):
    deleted: bool


class TestOut(Out):
    testStatus: Literal["ok", "failed"]
    error: str | None = None


class DeliveryOut(Out):
    id: str
    channelId: str
    subject: str
    body: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lastError: str | None
    createdAt: str


class OkOut(Out):
    ok: bool


class SlackOut(Out):
    ok: bool | None = None
    challenge: str | None = None  # the answer to url_verification


class CallbackOut(Out):
    success: bool
    behavior: Literal["allow", "deny"]
    permissionPattern: str | None = None  # saved by always_allow


class PollOut(Out):
    processed: int
    total: int
    nextOffset: int | None


def _db(request):
    return request.app.state.db


def _strip_name(fields: dict) -> dict:
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not fields["name"]:
            raise Invalid("Validation failed", form_errors=[], field_errors={"name": ["Name is required"]})
    return fields


@endpoint(response=list[ChannelOut])
async def list_channels(request):
    """All channels, newest first, secrets masked."""
    return ok(await store.list_channels(_db(request)))


@endpoint(body=ChannelCreate, response=ChannelOut, status=201, errors=(400,))
async def create_channel(request):
    """Create a Slack, Telegram or webhook channel (active, untested)."""
    body = await read_body(request, ChannelCreate)
    channel = await store.create_channel(_db(request), _strip_name(body.model_dump()))
    await request.app.state.channel_chat.sync_pollers()
    return ok(channel, 201)


@endpoint(response=ChannelOut, errors=(404,))
async def get_channel(request):
    """One channel, secrets masked."""
    return ok(await store.get_channel(_db(request), request.path_params["id"]))


@endpoint(body=ChannelUpdate, response=ChannelOut, errors=(400, 404))
async def update_channel(request):
    """Rename, enable/disable, change direction or config (a changed config is untested again)."""
    body = await read_body(request, ChannelUpdate)
    fields = _strip_name(body.given())
    channel = await store.update_channel(_db(request), request.path_params["id"], fields)
    await request.app.state.channel_chat.sync_pollers()
    return ok(channel)


@endpoint(response=DeletedOut, errors=(404,))
async def delete_channel(request):
    """Delete a channel with its delivery history."""
    await store.delete_channel(_db(request), request.path_params["id"])
    await request.app.state.channel_chat.sync_pollers()
    return ok({"deleted": True})


@endpoint(response=TestOut, errors=(404, 502))
async def test_channel(request):
    """Send a real test message; 502 with the reason when the channel's service refuses it."""
    error = await request.app.state.channels.test(request.path_params["id"])
    if error is None:
        return ok({"testStatus": "ok"})
    return ok({"testStatus": "failed", "error": error}, 502)


@endpoint(response=list[DeliveryOut], errors=(404,))
async def list_deliveries(request):
    """The channel's last 50 deliveries, newest first (extension)."""
    return ok(await store.list_deliveries(_db(request), request.path_params["id"]))


# ---- inbound ---------------------------------------------------------------------------

async def _inbound_channel(request, expected_type: str) -> dict:
    channel_id = request.query_params.get("configId")
    if not channel_id:
        raise Invalid("Missing configId")
    channel = await store.get_channel_raw(_db(request), channel_id)
    if channel is None:
        raise store.channel_not_found()
    if channel["channelType"] != expected_type:
        raise Invalid(f"Channel is not a {expected_type.capitalize()} channel")
    return channel


async def _webhook_payload(request) -> dict:
    """The JSON object a Slack or Telegram webhook sent; an empty body is malformed too."""
    return await read_body(request, required=True, malformed="Invalid JSON body",
                           not_object="Invalid JSON body: expected an object")


@endpoint(query=InboundQuery, response=SlackOut, errors=(400, 401, 403, 404))
async def inbound_slack(request):
    """Slack Events API: url_verification and signed message events."""
    channel = await _inbound_channel(request, "slack")
    secret = channel["config"].get("signingSecret")
    if not secret:
        raise Unauthorized("This channel has no signingSecret; add it to receive Slack events")
    raw = await request.body()
    if not verify_slack_signature(secret, request.headers.get("x-slack-request-timestamp"),
                                  request.headers.get("x-slack-signature"), raw):
        raise Forbidden("Invalid signature")
    payload = await _webhook_payload(request)
    if payload.get("type") == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise Invalid("url_verification without a challenge")
        return ok({"challenge": challenge})
    message = parse_slack_event(payload)
    if message is not None and channel["status"] == "active":
        await request.app.state.channels.receive(channel, message)
    return ok({"ok": True})


@endpoint(query=TelegramQuery, response=OkOut, errors=(400, 401, 403, 404))
async def inbound_telegram(request):
    """Telegram bot webhook; the secret comes in `?secret=` or X-Telegram-Bot-Api-Secret-Token."""
    channel = await _inbound_channel(request, "telegram")
    expected = channel["config"].get("webhookSecret")
    if not expected:
        raise Unauthorized("This channel has no webhookSecret; add it to receive Telegram updates")
    sent = (request.query_params.get("secret")
            or request.headers.get("x-telegram-bot-api-secret-token") or "")
    if not hmac.compare_digest(sent.encode(), str(expected).encode()):
        raise Forbidden("Invalid secret")
    update = await _webhook_payload(request)
    if channel["status"] == "active":  # a message is stored, a button press decides (channel_approvals)
        await request.app.state.channels.receive_telegram(channel, update)
    return ok({"ok": True})


@endpoint(query=InboundQuery, body=PollBody, response=PollOut, errors=(400, 401, 403, 404, 502))
async def poll_telegram(request):
    """Internal: read pending updates with getUpdates (for when Telegram cannot reach us)."""
    if request.headers.get("x-stagent-internal") != "poll":
        raise Unauthorized("Unauthorized: internal use only (x-stagent-internal: poll)")
    channel_id = request.query_params.get("configId")
    if not channel_id:
        raise Invalid("Missing configId")
    body = await read_body(request, PollBody)
    return ok(await request.app.state.channels.poll_telegram(channel_id, body.offset))


@endpoint(body=CallbackIn, response=CallbackOut, errors=(400, 401, 403, 404, 409))
async def webhook_callback(request):
    """A bidirectional webhook channel answers a permission request it was sent (extension).
    Signed as our webhooks are: `X-Stagent-Signature: sha256=<HMAC-SHA256 of the raw body with
    the channel's secret>` and `X-Stagent-Timestamp` (unix seconds, within 5 minutes)."""
    channel = await store.get_channel_raw(_db(request), request.path_params["id"])
    if channel is None:
        raise store.channel_not_found()
    if channel["channelType"] != "webhook":
        raise Invalid("Channel is not a webhook channel")
    secret = channel["config"].get("secret")
    if not secret:
        raise Unauthorized("This channel has no secret; add one to accept signed callbacks")
    if not verify_signature(secret, request.headers.get("x-stagent-timestamp"),
                            request.headers.get("x-stagent-signature"), await request.body()):
        raise Forbidden("Invalid signature")
    require_decisions(channel)
    body = await read_body(request, CallbackIn)
    row = await request.app.state.channel_approvals.decide(channel, body.notification_id, body.action,
                                                           message=body.message)
    response = loads(row["response"], {})
    return ok({"success": True, "behavior": response["behavior"],
               "permissionPattern": response.get("permissionPattern")})


routes = [
    Route("/api/channels", list_channels, methods=["GET"]),
    Route("/api/channels", create_channel, methods=["POST"]),
    Route("/api/channels/inbound/slack", inbound_slack, methods=["POST"]),
    Route("/api/channels/inbound/telegram", inbound_telegram, methods=["POST"]),
    Route("/api/channels/inbound/telegram/poll", poll_telegram, methods=["POST"]),
    Route("/api/channels/{id}", get_channel, methods=["GET"]),
    Route("/api/channels/{id}", update_channel, methods=["PATCH"]),
    Route("/api/channels/{id}", delete_channel, methods=["DELETE"]),
    Route("/api/channels/{id}/test", test_channel, methods=["POST"]),
    Route("/api/channels/{id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/channels/{id}/callback", webhook_callback, methods=["POST"]),
]

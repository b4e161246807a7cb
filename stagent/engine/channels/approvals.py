"""Permission requests sent to delivery channels, and the decisions that come back from them.

Each new `permission_required` notification (the NotificationCreated event) is sent to the
channels of the setting `permissions.approvalChannels`, from this module's own supervised loop,
so nothing in a run's request path waits on a network send. What a channel gets depends on it:
- a `bidirectional` webhook: the actions and a `callbackUrl` in the body's metadata; the answer
  is a signed POST /api/channels/{id}/callback (api/channels.py);
- a `bidirectional` Telegram channel: inline buttons whose callback_data is `p:<request id>:<a|A|d>`;
  the press arrives as a callback_query (inbound webhook or poll) and is answered with
  answerCallbackQuery;
- Slack and outbound-only channels: the same request as text that says where to answer.
A decision goes through Permissions.respond, so it wakes the waiting run exactly as an answer
from the UI does; a channel may answer only the requests it was sent.
"""

from __future__ import annotations

import json
import logging

from ...db import Database
from ...db.rows import dumps, loads
from ...errors import Conflict, Forbidden, Invalid, NotFound
from ...events import EventBus, EventSubscription, NotificationCreated
from ...store import channels as channel_store
from ...store import notifications as notification_store
from ...store import settings
from ...store import tasks as task_store
from ..governance.permissions import Permissions
from ..supervisor import Supervisor
from .delivery import ChannelDelivery

log = logging.getLogger("stagent.channel_approvals")

SETTING_KEY = "permissions.approvalChannels"
SOURCE = "permission_request"  # the deliveries' source: how a callback finds what it was sent
ACTIONS = ("allow_once", "always_allow", "deny")
# action, callback_data code, button label. `p:<uuid>:<code>` is 40 bytes (Telegram allows 64).
BUTTONS = (("allow_once", "a", "Allow once"), ("always_allow", "A", "Always allow"), ("deny", "d", "Deny"))
_ACTION_OF_CODE = {code: action for action, code, _ in BUTTONS}
MAX_INPUT_TEXT = 1000


# ---- the setting -----------------------------------------------------------------------

async def approval_channels(db: Database) -> list[str]:
    ids = loads(await settings.value(db, SETTING_KEY), [])
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


async def set_approval_channels(db: Database, channel_ids: list[str]) -> list[str]:
    """Invalid (nothing saved) unless every id names a channel; duplicates are dropped."""
    channel_ids = list(dict.fromkeys(channel_ids))
    if channel_ids:
        await channel_store.require_ids(db, channel_ids)
    await settings.set_many(db, {SETTING_KEY: dumps(channel_ids)})
    return channel_ids


# ---- Telegram buttons ------------------------------------------------------------------

def callback_data(notification_id: str, action: str) -> str:
    code = next(code for name, code, _ in BUTTONS if name == action)
    return f"p:{notification_id}:{code}"


def parse_callback_data(data) -> tuple[str, str] | None:
    """(notification id, action) from a button of ours; None for anything else."""
    if not isinstance(data, str) or not data.startswith("p:"):
        return None
    notification_id, _, code = data[2:].rpartition(":")
    action = _ACTION_OF_CODE.get(code)
    return (notification_id, action) if notification_id and action else None


def same_chat(configured, chat: dict) -> bool:
    """A press counts only from the chat the channel sends to (a numeric id or an @username)."""
    text = str(configured).strip()
    if text.lstrip("-").isdigit():
        return str(chat.get("id")) == text
    return text.startswith("@") and chat.get("username") == text[1:]


# ---- the engine ------------------------------------------------------------------------

def require_decisions(channel: dict) -> None:
    """Forbidden unless this channel may answer permission requests."""
    if channel["status"] != "active":
        raise Forbidden("Channel is not active")
    if channel["direction"] != "bidirectional":
        raise Forbidden("This channel does not accept decisions: set its direction to bidirectional")


class ChannelApprovals:
    def __init__(self, db: Database, events: EventBus, permissions: Permissions,
                 channels: ChannelDelivery, supervisor: Supervisor, base_url: str):
        self.db = db
        self.events = events
        self.permissions = permissions
        self.channels = channels
        self.supervisor = supervisor
        self.base_url = base_url.rstrip("/")

    def start(self) -> None:
        # Subscribed now, not when the loop first runs: no request created meanwhile is missed.
        subscription = self.events.subscribe(NotificationCreated)
        self.channels.handle_callback_queries(self.telegram_callback)
        self.supervisor.start("channel-approvals", self._run(subscription))

    async def stop(self) -> None:
        """No more requests go out, and no more button presses are answered."""
        for name in ("channel-approvals", *self.supervisor.names("telegram-answer:")):
            await self.supervisor.cancel(name)

    async def _run(self, subscription: EventSubscription) -> None:
        with subscription:
            while True:
                event = await subscription.get()
                if event.type != "permission_required":
                    continue
                try:
                    await self.announce(event.notification_id)
                except Exception:  # one request that cannot be sent must not stop the next
                    log.exception("sending permission request %s to channels failed", event.notification_id)

    async def announce(self, notification_id: str) -> list[str]:
        """Send one open permission request to the approval channels; returns the delivery ids."""
        channel_ids = await approval_channels(self.db)
        if not channel_ids:
            return []
        request = await notification_store.get(self.db, notification_id)
        if request is None or request["type"] != "permission_required" or request["response"] is not None:
            return []
        tool_input = loads(request["toolInput"], {})
        where = await self._where(request)
        delivery_ids = []
        for channel_id in channel_ids:
            channel = await channel_store.get_channel_raw(self.db, channel_id)
            kind = channel["channelType"] if channel else None
            interactive = channel is not None and channel["direction"] == "bidirectional"
            metadata = {"type": "permission_required", "notificationId": request["id"],
                        "toolName": request["toolName"], "toolInput": tool_input,
                        "taskId": request["taskId"], "conversationId": request["conversationId"],
                        "expiresAt": request["expiresAt"]}
            if interactive and kind == "webhook":
                how = "Answer with a signed POST to the callbackUrl: allow_once, always_allow or deny."
                metadata.update(actions=list(ACTIONS), callbackUrl=f"{self.base_url}/api/channels/{channel_id}/callback")
            elif interactive and kind == "telegram":
                how = "Answer with the buttons below."
                metadata["replyMarkup"] = {"inline_keyboard": [[
                    {"text": label, "callback_data": callback_data(request["id"], action)}
                    for action, _, label in BUTTONS]]}
            else:
                how = f"Answer in stagent: {self.base_url}{_deep_link(request)}"
            input_text = json.dumps(tool_input, ensure_ascii=False)
            if len(input_text) > MAX_INPUT_TEXT:
                input_text = input_text[:MAX_INPUT_TEXT] + "…"
            body = "\n".join([where, f"Tool: {request['toolName']}", f"Input: {input_text}",
                              f"Unanswered, it is denied at {request['expiresAt']}.", how])
            delivery_ids += await self.channels.deliver([channel_id], request["title"], body,
                                                        metadata=metadata, source=SOURCE)
        return delivery_ids

    async def _where(self, request: dict) -> str:
        if request["taskId"]:
            try:
                task = await task_store.get_task(self.db, request["taskId"])
                return f"Task: {task['title']}"
            except NotFound:
                return f"Task: {request['taskId']}"
        return "In a chat conversation" if request["conversationId"] else "In stagent"

    async def decide(self, channel: dict, notification_id: str, action: str,
                     message: str | None = None) -> dict:
        """Apply a channel's answer to a request it was sent. Forbidden (the channel may not
        answer), NotFound (not a request this channel got), Conflict (already answered).
        Returns the answered notification."""
        require_decisions(channel)
        if action not in ACTIONS:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}")
        if not await channel_store.sent_request(self.db, channel["id"], notification_id):
            raise NotFound("Permission request not found")
        return await self.permissions.respond(
            notification_id, behavior="deny" if action == "deny" else "allow", message=message,
            always_allow=action == "always_allow")

    async def telegram_callback(self, channel: dict, query: dict) -> None:
        """A button press: decide, then answer the press (in the background) with the outcome."""
        text = await self._telegram_decision(channel, query)
        query_id = query.get("id")
        name = f"telegram-answer:{query_id}"
        if isinstance(query_id, str) and not self.supervisor.running(name):
            self.supervisor.start(name, self.channels.answer_callback_query(channel, query_id, text))

    async def _telegram_decision(self, channel: dict, query: dict) -> str:
        parsed = parse_callback_data(query.get("data"))
        if parsed is None:
            return "Unknown button"
        sender = query.get("from") if isinstance(query.get("from"), dict) else {}
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        if sender.get("is_bot") or not same_chat(channel["config"].get("chatId"), chat):
            return "Decisions are taken only from the channel's own chat"
        try:
            row = await self.decide(channel, *parsed)
        except Forbidden:
            return "This channel does not accept decisions"
        except NotFound:
            return "This request no longer exists"
        except Conflict:
            return "Already answered"
        return _outcome(row)


def _outcome(row: dict) -> str:
    response = loads(row["response"], {}) or {}
    if response.get("behavior") != "allow":
        return f"Denied: {row['toolName']}"
    if response.get("permissionPattern"):
        return f"Always allowed: {response['permissionPattern']}"
    return f"Allowed once: {row['toolName']}"


def _deep_link(request: dict) -> str:
    if request["taskId"]:
        return f"/tasks/{request['taskId']}"
    if request["conversationId"]:
        return f"/chat/{request['conversationId']}"
    return "/inbox"

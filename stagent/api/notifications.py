"""/api/notifications: the inbox (4), pending approvals and their SSE stream (2), and an SSE
stream of every notification as it is created or changes (extension).

SSE ids come from the notification clock (m005): it advances on every insert, change and
delete. A pending-approvals frame's id is the clock it was read at; reconnecting with that
Last-Event-ID sends nothing until the set changes. A notification-stream event's id is the
row's own clock value, so Last-Event-ID replays exactly what changed after it. Streams wake
on the event bus (no polling); they re-check the clock at each keepalive, which also catches
rows written by code that did not publish an event.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..db.rows import loads
from ..engine.governance.permission_patterns import suggest
from ..engine.governance.permissions import ONE_OFF_TOOLS
from ..errors import Invalid
from ..events import NotificationChanged, NotificationCreated, TaskStatusChanged
from ..store import notifications as store
from ..store.workflow_runs import CHECKPOINT_TOOL
from ._http import Body, Out, endpoint, ok, read_body
from ._sse import json_frame, last_event_id, sequence_number, sse_response

SUMMARY_MAX = 120
SEQUENCE = "notification sequence number"
ACTION_IDS = ["allow_once", "always_allow", "deny", "open_inbox"]


class ListQuery(Body):
    unread: str | None = None
    type: str | None = None
    count_only: str | None = None


class ReadIn(Body):
    read: bool = True


class NotificationOut(Out):
    id: str
    taskId: str | None
    type: str
    title: str
    body: str | None
    read: bool
    toolName: str | None
    toolInput: str | None
    response: str | None
    respondedAt: str | None
    createdAt: str


class SuccessOut(Out):
    success: bool


class CountOut(Out):
    count: int


def _db(request):
    return request.app.state.db


@endpoint(query=ListQuery, response=list[NotificationOut] | CountOut)
async def list_notifications(request):
    """The inbox, newest first (max 100); `unread=true`, `type=<type>`, `countOnly=true` → {count}."""
    q = request.query_params
    unread, kind = q.get("unread") == "true", q.get("type") or None
    if q.get("countOnly") == "true":
        return ok({"count": await store.count(_db(request), unread=unread, type=kind)})
    return ok(await store.list_notifications(_db(request), unread=unread, type=kind))


@endpoint(body=ReadIn, response=NotificationOut, errors=(400, 404))
async def update_notification(request):
    """Mark one read (default) or unread."""
    data = await read_body(request, not_object="read must be a boolean")
    read = data.get("read", True)
    if not isinstance(read, bool):
        raise Invalid("read must be a boolean")
    notification = await store.set_read(_db(request), request.path_params["id"], read)
    request.app.state.events.publish(NotificationChanged(notification["id"], notification["taskId"]))
    return ok(notification)


class RespondIn(Body):
    behavior: Literal["allow", "deny"]
    message: str | None = Field(default=None, max_length=4000)
    updated_input: dict | None = None
    always_allow: bool | None = None
    permission_pattern: str | None = Field(default=None, max_length=500)


@endpoint(body=RespondIn, response=NotificationOut, errors=(400, 404, 409))
async def respond_notification(request):
    """Answer any waiting permission request from the inbox (extension): a task's tool call, a
    chat's, a workflow checkpoint or a Lars action, whoever raised it."""
    body = await read_body(request, RespondIn)
    answered = await request.app.state.permissions.respond(
        request.path_params["id"], behavior=body.behavior, message=body.message,
        updated_input=body.updated_input, always_allow=bool(body.always_allow),
        permission_pattern=body.permission_pattern)
    return ok(answered)


@endpoint(response=SuccessOut)
async def delete_notification(request):
    """Delete one (200 also when it does not exist). A waiting permission request is denied."""
    gone = await store.delete(_db(request), request.path_params["id"])
    if gone is not None:
        request.app.state.permissions.dismissed(gone)
        request.app.state.events.publish(NotificationChanged(gone["id"], gone["taskId"]))
    return ok({"success": True})


@endpoint(response=SuccessOut)
async def mark_all_read(request):
    """Mark every unread notification read."""
    if await store.mark_all_read(_db(request)):
        request.app.state.events.publish(NotificationChanged(None))
    return ok({"success": True})


# ---- pending approvals -------------------------------------------------------------------

def _truncate(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


def _summary(tool: str | None, tool_input) -> str:
    """One line for a toast: the command or path when there is one, else the first string."""
    if not isinstance(tool_input, dict) or not tool_input:
        return "Review the requested tool invocation."
    if tool == CHECKPOINT_TOOL and isinstance(tool_input.get("stepName"), str):
        return _truncate(f"Approve before step: {tool_input['stepName']}")
    for key in ("command", "cmd", "file_path", "path", "url", "query"):
        if isinstance(tool_input.get(key), str) and tool_input[key].strip():
            return _truncate(tool_input[key].strip())
    first = next((v for v in tool_input.values() if isinstance(v, str)), None)
    if first is not None:
        return _truncate(first)
    key, value = next(iter(tool_input.items()))
    return _truncate(f"{key}: {json.dumps(value)}")


def _label(tool: str | None) -> str:
    if not tool:
        return "Tool"
    if tool == CHECKPOINT_TOOL:
        return "Workflow checkpoint"
    if tool.startswith("mcp__"):
        _, server, name = (tool.split("__", 2) + ["server", "tool"])[:3]
        return f"MCP {server}/{name}"
    return tool


def approval_payload(row: dict) -> dict:
    """The catalog's pending-approval item, plus the docs' `id`/`message` and the extensions
    conversationId, expiresAt and suggestedPattern (what "always allow" would save)."""
    tool_input = loads(row["toolInput"], None)
    tool_input = tool_input if isinstance(tool_input, dict) else None
    proposal = row["type"] != "permission_required"
    once_only = proposal or row["toolName"] in ONE_OFF_TOOLS  # "always" would save nothing
    workflow_id = row["workflowId"] or ((tool_input or {}).get("workflowId") if not row["taskId"] else None)
    if proposal:
        deep_link = f"/profiles/{row['toolName']}"
    elif row["taskId"]:
        deep_link = f"/tasks/{row['taskId']}"
    elif workflow_id:
        deep_link = f"/workflows/{workflow_id}"
    elif row["conversationId"]:
        deep_link = f"/chat/{row['conversationId']}"
    else:
        deep_link = "/inbox"
    return {
        "channel": "in_app", "notificationId": row["id"], "id": row["id"], "taskId": row["taskId"],
        "workflowId": workflow_id, "conversationId": row["conversationId"], "toolName": row["toolName"],
        "permissionLabel": "Context Proposal" if proposal else _label(row["toolName"]),
        "compactSummary": (f'Learned patterns proposed for profile "{row["toolName"]}"' if proposal
                           else _summary(row["toolName"], tool_input)),
        "deepLink": deep_link,
        "supportedActionIds": ["allow_once", "deny"] if once_only else list(ACTION_IDS),
        "title": row["title"], "body": row["body"], "message": row["body"], "taskTitle": row["taskTitle"],
        "workflowName": row["workflowName"], "toolInput": tool_input, "createdAt": row["createdAt"],
        "read": row["read"], "notificationType": row["type"], "expiresAt": row["expiresAt"],
        "suggestedPattern": None if once_only or not row["toolName"] else suggest(row["toolName"], tool_input or {}),
    }


async def _pending(request) -> tuple[int, list[dict]]:
    clock, rows = await store.pending_rows(_db(request))
    return clock, [approval_payload(row) for row in rows]


@endpoint(response=list[dict])
async def pending_approvals(request):
    """Unanswered approvals (permission requests, context proposals), newest first, max 20."""
    return ok((await _pending(request))[1])


def _after(raw: str) -> int:
    """`?after=`, the older spelling of Last-Event-ID; a negative one reads from the start."""
    try:
        negative = int(raw) < 0
    except ValueError:
        negative = False  # sequence_number names the error
    return 0 if negative else sequence_number(raw, name="after", unit=SEQUENCE)


async def _next_change(subscription, shutdown, timeout: float) -> bool:
    """Wait for a notification event (or `timeout`, the safety re-check); False on shutdown."""
    if shutdown.is_set():
        return False
    get = asyncio.ensure_future(subscription.get())
    stop = asyncio.ensure_future(shutdown.wait())
    try:
        await asyncio.wait({get, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        get.cancel()
        stop.cancel()
    while not subscription.queue.empty():  # one re-read covers a burst
        subscription.queue.get_nowait()
    return not shutdown.is_set()


def _subscribe(request):
    """Only inside a stream's generator: a HEAD request or a client gone before the first
    frame never starts it, and a subscription made outside it would never be closed."""
    return request.app.state.events.subscribe(NotificationCreated, NotificationChanged, TaskStatusChanged)


@endpoint(content_type="text/event-stream", errors=(400,))
async def stream_pending_approvals(request):
    """SSE: the pending-approvals array, first at once, then whenever the set changes."""
    last = last_event_id(request, unit=SEQUENCE)
    shutdown, keepalive = request.app.state.sse_shutdown, request.app.state.config.sse_keepalive_seconds

    def signature(items: list[dict]) -> list[tuple]:
        return [(item["notificationId"], item["createdAt"]) for item in items]

    async def events():
        with _subscribe(request) as subscription:  # before the first read: no change is missed
            clock, items = await _pending(request)
            if last != clock:  # a client resuming at this very clock already has this set
                yield json_frame(items, id=clock)
            sent, seen = signature(items), clock
            while await _next_change(subscription, shutdown, keepalive):
                if await store.clock(_db(request)) == seen:
                    continue
                seen, items = await _pending(request)
                if signature(items) != sent:
                    sent = signature(items)
                    yield json_frame(items, id=seen)

    return sse_response(request.app, events())


@endpoint(content_type="text/event-stream", errors=(400,))
async def stream_notifications(request):
    """SSE (extension): each notification as it is created or changes, id = its clock value.
    Without Last-Event-ID (or `after`) it starts from now."""
    last = last_event_id(request, unit=SEQUENCE)
    if last is None and request.query_params.get("after"):
        last = _after(request.query_params["after"])
    # "From now" is read before the 200 goes out: a change the client could see happen after
    # its request was answered is always sent.
    start = last if last is not None else await store.clock(_db(request))
    shutdown, keepalive = request.app.state.sse_shutdown, request.app.state.config.sse_keepalive_seconds

    async def events():
        after = start
        with _subscribe(request) as subscription:  # before the first read: no change is missed
            while True:
                for seq, notification in await store.changed_since(_db(request), after):
                    after = seq
                    yield json_frame(notification, id=seq)
                if not await _next_change(subscription, shutdown, keepalive):
                    return

    return sse_response(request.app, events())


routes = [
    Route("/api/notifications", list_notifications, methods=["GET"]),
    Route("/api/notifications/mark-all-read", mark_all_read, methods=["PATCH"]),
    Route("/api/notifications/pending-approvals", pending_approvals, methods=["GET"]),
    Route("/api/notifications/pending-approvals/stream", stream_pending_approvals, methods=["GET"]),
    Route("/api/notifications/stream", stream_notifications, methods=["GET"]),
    Route("/api/notifications/{id}", update_notification, methods=["PATCH"]),
    Route("/api/notifications/{id}", delete_notification, methods=["DELETE"]),
    Route("/api/notifications/{id}/respond", respond_notification, methods=["POST"]),
]

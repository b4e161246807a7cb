"""Tool-call governance: allow, deny, or ask a human.

Every agent loop (task runner, chat engine, Stan, Lars, scheduled runs) calls
`Permissions.check_tool` before it runs a tool, and honours the Decision it gets.

Order: safe tools (read-only, patterns.SAFE_TOOLS) → the allow-lists (global + project +
profile) → an answer already settled for the identical call in this run → ask. Asking writes
a `permission_required` notification (or joins the open one for the identical call) and waits
on an asyncio Future keyed by its id: no polling, no DB connection or thread held. `respond`
records the answer and resolves the Future; an unanswered request is denied at its
`expires_at` (stored, so a restart keeps the deadline).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import loads, to_iso
from ...errors import Invalid
from ...events import EventBus, NotificationChanged, NotificationCreated
from ...store import notifications as store
from ...store import permissions as allow_store
from . import permission_patterns as patterns

DEFAULT_TIMEOUT_SECONDS = 600.0
TIMEOUT_MESSAGE = "Permission request timed out"
DENIED_MESSAGE = "The user denied this tool call"
TURN_ENDED = "The run ended before an answer"
# Requests no allow-list ever pre-approves (a Lars action, 015; a workflow checkpoint, 013):
# "always allow" answers them once and saves nothing.
ONE_OFF_TOOLS = frozenset({"LarsAction", "WorkflowCheckpoint"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    args: dict = field(default_factory=dict)  # the input to run with (a human may have edited it)
    message: str | None = None                # why it was denied, told to the model
    request_id: str | None = None             # the notification, when a human was asked


def decision_from(response: dict | None, args: dict, request_id: str | None = None) -> Decision:
    """A stored or delivered answer as a Decision; anything malformed denies."""
    if not isinstance(response, dict) or response.get("behavior") not in ("allow", "deny"):
        return Decision(False, args, "Malformed permission response", request_id)
    if response["behavior"] == "deny":
        return Decision(False, args, response.get("message") or DENIED_MESSAGE, request_id)
    updated = response.get("updatedInput")
    return Decision(True, {**args, **updated} if isinstance(updated, dict) else args,
                    response.get("message"), request_id)


class Permissions:
    def __init__(self, db: Database, events: EventBus, default_timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.db = db
        self.events = events
        self.default_timeout = default_timeout
        self._waiters: dict[str, list] = {}                 # notification id -> [Future, waiter count]
        self._settled: dict[str, dict[str, Decision]] = {}  # task id -> call fingerprint -> Decision

    async def check_tool(self, *, tool: str, args: dict, task: dict | None = None,
                         conversation_id: str | None = None, project_id: str | None = None,
                         profile: str | None = None,
                         on_request: Callable[[dict], Awaitable[None] | None] | None = None,
                         before_request: Callable[[], Awaitable[None]] | None = None,
                         tool_call_id: str | None = None) -> Decision:
        """Allow/deny from the allow-lists; "ask" creates a permission_required notification,
        calls `on_request(notification)` (a chat stream sends its permission_request event),
        after `before_request()` ran before the request was committed (a task saves its run, so
        a crash never leaves a request that its saved conversation does not know),
        and waits (event-driven, no polling, no DB connection held) for the decision or the
        timeout (deny)."""
        if tool in patterns.SAFE_TOOLS:
            return Decision(True, args)
        project_id = project_id or (task or {}).get("projectId")
        profile = profile or (task or {}).get("agentProfile")
        allow = await allow_store.effective_allow(self.db, project_id, profile)
        if patterns.allowed_by(allow, tool, args):
            return Decision(True, args)
        task_id = (task or {}).get("id")
        fingerprint = tool + "\0" + store.canonical(args)
        if task_id and fingerprint in self._settled.get(task_id, {}):
            return self._settled[task_id][fingerprint]

        if before_request is not None:
            await before_request()
        timeout = await allow_store.timeout_seconds(self.db, self.default_timeout)
        input_text = json.dumps(args, ensure_ascii=False)
        notification, created = await store.open_request(
            self.db, task_id=task_id, conversation_id=None if task_id else conversation_id, tool=tool,
            args=args, title=f"Permission required: {tool}",
            body=input_text[:1000], tool_call_id=tool_call_id,
            expires_at=to_iso(datetime.now(UTC) + timedelta(seconds=max(0.0, timeout))))
        if created:
            self.events.publish(NotificationCreated(notification["id"], task_id, "permission_required"))
        try:
            if on_request is not None:
                result = on_request(notification)
                if inspect.isawaitable(result):
                    await result
            decision = await self._wait(notification, args)
        except BaseException:
            if not task_id:  # a chat turn does not outlive its stream (a task's run is resumable)
                await asyncio.shield(self._close(store.close_open(
                    self.db, {"behavior": "deny", "message": TURN_ENDED}, notification_id=notification["id"])))
            raise
        if task_id:
            self._settled.setdefault(task_id, {})[fingerprint] = decision
        return decision

    async def wait_for_answer(self, notification: dict, args: dict) -> Decision:
        """Wait on a request its owner created (a Lars action's approval): the answer, a dismissal,
        or a denial at its stored deadline. Safe to call again after a restart."""
        return await self._wait(notification, args)

    def end_run(self, task_id: str) -> None:
        """Forget the answers settled during a task's run (the next run asks again)."""
        self._settled.pop(task_id, None)

    async def _wait(self, notification: dict, args: dict) -> Decision:
        request_id = notification["id"]
        entry = self._waiters.setdefault(request_id, [asyncio.get_running_loop().create_future(), 0])
        entry[1] += 1
        future = entry[0]
        try:
            # Registered first, then read: an answer that committed before the Future existed
            # is in the row; one that commits after finds the Future.
            row = await store.get(self.db, request_id)
            if row is None:
                return Decision(False, args, "The permission request was dismissed", request_id)
            if row["response"] is not None:
                return decision_from(loads(row["response"]), args, request_id)
            expires = row["expiresAt"]
            remaining = (_parse_iso(expires) - datetime.now(UTC)).total_seconds() if expires else \
                self.default_timeout
            await asyncio.wait({future}, timeout=max(0.0, remaining))
            if future.done():
                return decision_from(future.result(), args, request_id)
            closed = await store.close_open(self.db, {"behavior": "deny", "message": TIMEOUT_MESSAGE},
                                            notification_id=request_id)
            if closed:
                self.events.publish(NotificationChanged(request_id, row["taskId"]))
                await self._tell_timed_out(row)
                return Decision(False, args, TIMEOUT_MESSAGE, request_id)
            row = await store.get(self.db, request_id)  # answered in the same instant
            return decision_from(loads(row["response"]) if row else None, args, request_id)
        finally:
            entry[1] -= 1
            if entry[1] <= 0 and self._waiters.get(request_id) is entry:
                del self._waiters[request_id]

    async def _tell_timed_out(self, row: dict) -> None:
        """A request nobody answered in time was denied: say so in the Inbox, where the request
        itself has just left the waiting list."""
        waited = ""
        if row.get("createdAt") and row.get("expiresAt"):
            minutes = (_parse_iso(row["expiresAt"]) - _parse_iso(row["createdAt"])).total_seconds() / 60
            waited = f" within {minutes:.0f} minute{'' if round(minutes) == 1 else 's'}" if minutes >= 1 else ""
        notice = await store.create(
            self.db, type="agent_message", title=f"No answer in time: {row['title']}",
            body=(f"Nobody answered{waited}, so it was denied. How long approvals wait is a setting "
                  "(Settings, Approvals)."),
            task_id=row.get("taskId"), conversation_id=row.get("conversationId"))
        self.events.publish(NotificationCreated(notice["id"], row.get("taskId"), "agent_message"))

    def _deliver(self, request_id: str, response: dict) -> None:
        entry = self._waiters.get(request_id)
        if entry is not None and not entry[0].done():
            entry[0].set_result(response)

    async def respond(self, notification_id: str, *, behavior: str, message: str | None = None,
                      updated_input: dict | None = None, always_allow: bool = False,
                      permission_pattern: str | None = None, task_id: str | None = None,
                      conversation_id: str | None = None) -> dict:
        """Record a human decision (allow/deny) and wake the run or chat turn waiting on it.
        Raises NotFound for an unknown request, Conflict if it was already answered.
        `task_id`/`conversation_id` scope the lookup to the route's resource. Returns the
        answered notification."""
        if behavior not in ("allow", "deny"):
            raise Invalid("behavior must be 'allow' or 'deny'")
        if permission_pattern is not None:  # the same rules as POST /api/permissions
            try:
                permission_pattern = patterns.validate(permission_pattern)
            except patterns.PatternError as exc:
                raise Invalid(f"Invalid permissionPattern: {permission_pattern.strip()[:100]!r} ({exc})") from None
        response: dict = {"behavior": behavior}
        if message is not None:
            response["message"] = message
        if updated_input is not None:
            response["updatedInput"] = updated_input
        if always_allow:
            response["alwaysAllow"] = True

        def save_pattern(conn, notification: dict) -> str | None:
            if behavior != "allow" or not always_allow or notification["toolName"] in ONE_OFF_TOOLS:
                return None
            pattern = permission_pattern or patterns.suggest(
                notification["toolName"] or "", loads(notification["toolInput"], {}) or {})
            if not patterns.is_valid(pattern):
                return None  # a tool name outside the grammar: allowed this once, nothing saved
            allow_store.add_in(conn, allow_store.GLOBAL_KEY, [pattern])
            return pattern

        row = await store.answer(self.db, notification_id, response, task_id=task_id,
                                 conversation_id=conversation_id, on_allow_always=save_pattern)
        self.events.publish(NotificationChanged(notification_id, row["taskId"]))
        self._deliver(notification_id, loads(row["response"]))
        return row

    def dismissed(self, notification: dict) -> None:
        """A request was deleted from the inbox: whoever waits on it is denied now."""
        if notification.get("type") == "permission_required" and notification.get("response") is None:
            self._deliver(notification["id"], {"behavior": "deny", "message": "The permission request was dismissed"})

    async def close_requests(self, task_id: str, message: str) -> None:
        """The task's run ended (cancelled): its open requests leave the pending list."""
        await self._close(store.close_open(self.db, {"behavior": "deny", "message": message}, task_id=task_id))

    async def close_orphaned(self, keep_task_ids: set[str]) -> None:
        """On start: requests nobody can wait on any more (chat turns, tasks no longer paused)
        are closed; those of `keep_task_ids` wait again, and workflow checkpoints (neither task
        nor conversation) are left to their owner."""
        await self._close(store.close_orphaned(self.db, {"behavior": "deny", "message": TURN_ENDED},
                                               keep_task_ids))

    async def _close(self, closing: Awaitable[list[dict]]) -> None:
        for row in await closing:
            self.events.publish(NotificationChanged(row["id"], row["taskId"]))
            self._deliver(row["id"], loads(row["response"]))

    def waiting_on(self, request_id: str) -> bool:
        return request_id in self._waiters


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

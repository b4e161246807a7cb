"""Tool-call governance: allow, deny, or ask a human (the governance issue fills this in).

Every agent loop (task runner, chat engine, Stan, Lars, scheduled runs) calls
`Permissions.check_tool` before it runs a tool, and honours the Decision it gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..db import Database
from ..events import EventBus


@dataclass(frozen=True)
class Decision:
    allowed: bool
    args: dict = field(default_factory=dict)  # the input to run with (a human may have edited it)
    message: str | None = None                # why it was denied, told to the model


class Permissions:
    def __init__(self, db: Database, events: EventBus):
        self.db = db
        self.events = events

    async def check_tool(self, *, tool: str, args: dict, task: dict | None = None,
                         conversation_id: str | None = None, project_id: str | None = None,
                         profile: str | None = None,
                         on_request: Callable[[dict], Awaitable[None] | None] | None = None) -> Decision:
        """Allow/deny from the allow-lists; "ask" creates a permission_required notification,
        calls `on_request(notification)` (a chat stream sends its permission_request event),
        and waits (event-driven, no polling, no DB connection held) for the decision or the
        timeout (deny)."""
        return Decision(True, args)

    async def respond(self, notification_id: str, *, behavior: str, message: str | None = None,
                      updated_input: dict | None = None, always_allow: bool = False,
                      permission_pattern: str | None = None) -> None:
        """Record a human decision (allow/deny) and wake the run or chat turn waiting on it.
        Raises NotFound for an unknown request, Conflict if it was already answered."""
        raise NotImplementedError

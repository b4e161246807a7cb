"""/api/logs/stream (SSE) and the shared log-stream response used by /api/tasks/{id}/logs.

Every event carries `id: <seq>`; a client reconnecting with Last-Event-ID gets exactly the
lines after it. New lines are pushed as they commit (no polling); a `: keepalive` comment goes
out every 15 s. Headers are sent at once, before any line exists.
"""

from __future__ import annotations

import json

from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.routing import Route

from ..errors import Invalid
from ..store import tasks as task_store
from ._http import Body, endpoint, read_query

TERMINAL_EVENTS = frozenset(task_store.TERMINAL_LINE.values())


class LogStreamQuery(Body):
    task_id: str | None = None
    event_type: str | None = None


def _last_event_id(request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise Invalid("Last-Event-ID must be an integer log sequence number") from None
    if value < 0:
        raise Invalid("Last-Event-ID must not be negative")
    return value


class FrameCache:
    """Encoded frames of recent lines, shared by every subscriber of one app: with 1,000
    clients tailing one task, each line is serialised once, not once per client. Seqs only
    grow, so the oldest entry is always the first in the dict."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self.frames: dict[int, bytes] = {}

    def frame(self, row: dict) -> bytes:
        frame = self.frames.get(row["seq"])
        if frame is None:
            data = json.dumps(row, separators=(",", ":"), ensure_ascii=False)
            frame = f"id: {row['seq']}\r\ndata: {data}\r\n\r\n".encode()
            self.frames[row["seq"]] = frame
            if len(self.frames) > self.size:
                del self.frames[next(iter(self.frames))]
        return frame


def sse_log_stream(request, *, task_id: str | None = None, event: str | None = None,
                   close_when_done: bool = False) -> EventSourceResponse:
    app = request.app
    after = _last_event_id(request)
    subscription = app.state.logbus.subscribe(after=after, task_id=task_id, event=event)
    cache = app.state.sse_frames

    async def is_done() -> bool:
        row = await app.state.db.fetchone("SELECT status FROM tasks WHERE id = ?", (task_id,))
        return row is None or row["status"] in task_store.TERMINAL

    async def events():
        try:
            done = close_when_done and await is_done()
            while not done:
                rows = await subscription.next_batch()
                if not rows:  # the subscription was closed: the daemon is shutting down
                    return
                yield b"".join(cache.frame(row) for row in rows)  # one write per batch
                if close_when_done and any(r["event"] in TERMINAL_EVENTS for r in rows):
                    done = await is_done()
            # The task has ended. Its final line committed with its status, so the database
            # has it even if the bus has not published it yet: send what is left, then close.
            while rows := await subscription.read_committed():
                yield b"".join(cache.frame(row) for row in rows)
        finally:
            subscription.close()

    return sse_response(app, events())


@endpoint(query=LogStreamQuery, content_type="text/event-stream", errors=(400,))
async def stream_logs(request):
    """Tail agent logs of all tasks, optionally filtered by taskId and eventType."""
    query = read_query(request, LogStreamQuery)
    return sse_log_stream(request, task_id=query.task_id, event=query.event_type)


routes = [
    Route("/api/logs/stream", stream_logs, methods=["GET"]),
]


def sse_response(app, frames) -> EventSourceResponse:
    """Every stream of the daemon: keepalive comments, no caching or proxy buffering, and the
    shared shutdown event."""
    return EventSourceResponse(
        frames,
        ping=app.state.config.sse_keepalive_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="keepalive"),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # On shutdown sse-starlette sets this shared event; the lifespan then closes every
        # subscription, so streams end with a proper final chunk instead of being cut.
        shutdown_event=app.state.sse_shutdown,
        shutdown_grace_period=2.0,
    )

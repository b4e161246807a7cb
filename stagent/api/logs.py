"""/api/logs/stream (SSE) and the shared log-stream response used by /api/tasks/{id}/logs.

Every event carries `id: <seq>`; a client reconnecting with Last-Event-ID gets exactly the
lines after it. New lines are pushed as they commit (no polling); a `: keepalive` comment goes
out every 15 s. Headers are sent at once, before any line exists.
"""

from __future__ import annotations

from sse_starlette.sse import EventSourceResponse
from starlette.routing import Route

from ..store import tasks as task_store
from ._http import Body, endpoint, read_query
from ._sse import last_event_id, sse_response

TERMINAL_EVENTS = frozenset(task_store.TERMINAL_LINE.values())


class LogStreamQuery(Body):
    task_id: str | None = None
    event_type: str | None = None


def sse_log_stream(request, *, task_id: str | None = None, event: str | None = None,
                   close_when_done: bool = False) -> EventSourceResponse:
    app = request.app
    after = last_event_id(request) or 0
    subscription = app.state.logbus.subscribe(after=after, task_id=task_id, event=event)
    cache = app.state.sse_frames

    async def is_done() -> bool:
        status = await task_store.status_of(app.state.db, task_id)
        return status is None or status in task_store.TERMINAL

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

"""/api/events: the browser UI's one multiplexed stream, and a task's log history as JSON (extensions).

`GET /api/events/stream` carries, on one connection, what a UI tab follows:
- `event: log`: every agent log line of every task (the rows of /api/logs/stream);
- `event: notification`: each notification as it is created or changes (/api/notifications/stream);
- `event: task`: a task's status changed, `{taskId, status, previous}` (a hint to refresh lists).
It opens with `event: ready` (data `{}`), whose id is the cursors it starts from.
Every frame's `id:` is `<log seq>.<notification clock>`: both cursors as of that frame. The
browser's EventSource sends it back as Last-Event-ID when it reconnects, and the stream resumes
both sources exactly after it: no line lost, none repeated. Without Last-Event-ID (or
`?lastEventId=`) it starts from now; both cursors are read before the 200 goes out.

`GET /api/events/logs?taskId=…&after=…` pages through a task's lines already written (500 a
page), so a task page shows its history and then follows the shared stream, skipping any seq
it already has. See docs/decisions/016-browser-ui.md.
"""

from __future__ import annotations

import asyncio

from pydantic import Field
from starlette.routing import Route

from ..engine.logbus import REPLAY_PAGE
from ..events import NotificationChanged, NotificationCreated, TaskStatusChanged
from ..store import notifications as notification_store
from ._http import Body, Int, Out, endpoint, ok, read_query
from ._sse import MAX_SEQ, json_frame, last_event_id, sse_response

NOTIFICATION_PAGE = 500


class StreamQuery(Body):
    last_event_id: str | None = Field(default=None, max_length=40)


class LogsQuery(Body):
    task_id: str | None = Field(default=None, max_length=200)
    after: Int = Field(default=0, ge=0, le=MAX_SEQ)


class LogLineOut(Out):
    seq: int
    id: str
    taskId: str | None
    agentType: str
    event: str
    payload: str
    timestamp: str


class LogPageOut(Out):
    lines: list[LogLineOut]
    more: bool


def _frame(kind: str, data: dict, log_cursor: int, notification_cursor: int) -> bytes:
    return json_frame(data, id=f"{log_cursor}.{notification_cursor}", event=kind)


async def _wait(log_subscription, bus_subscription, shutdown, timeout: float) -> tuple[list, bool]:
    """Sleep until a log line, a bus event or shutdown, or `timeout`. Returns the bus events
    that arrived and whether the time ran out (the caller's cue to re-read notifications)."""
    waits = {asyncio.ensure_future(log_subscription.wake.wait()), asyncio.ensure_future(shutdown.wait())}
    getter = asyncio.ensure_future(bus_subscription.get())
    try:
        done, _ = await asyncio.wait({*waits, getter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in (*waits, getter):
            future.cancel()
    arrived = [getter.result()] if getter in done else []
    while not bus_subscription.queue.empty():
        arrived.append(bus_subscription.queue.get_nowait())
    return arrived, not done


@endpoint(query=StreamQuery, content_type="text/event-stream", errors=(400,))
async def ui_stream(request):
    """SSE (extension): log lines, notifications and task status changes on one connection;
    ids are `<log seq>.<notification seq>` and Last-Event-ID resumes both."""
    app = request.app
    db, logbus, shutdown = app.state.db, app.state.logbus, app.state.sse_shutdown
    keepalive = app.state.config.sse_keepalive_seconds
    start = last_event_id(request, unit="<log seq>.<notification seq>", parts=2)
    if start is None:  # "now", read before the 200: whatever happens after the client is answered is sent
        start = (logbus.last_seq, await notification_store.clock(db))

    async def frames():
        log_cursor, notification_cursor = start
        log_subscription = logbus.subscribe(after=log_cursor)
        try:
            with app.state.events.subscribe(NotificationCreated, NotificationChanged,
                                            TaskStatusChanged) as bus_subscription:
                # First, the cursors it starts from: a client that reconnects before any other
                # event still resumes from here, not from "now".
                yield _frame("ready", {}, log_cursor, notification_cursor)
                arrived, reread = [], True
                while not shutdown.is_set():
                    out = []
                    for row in await log_subscription.poll():
                        log_cursor = row["seq"]
                        out.append(_frame("log", row, log_cursor, notification_cursor))
                    for event in arrived:
                        if isinstance(event, TaskStatusChanged):
                            out.append(_frame("task", {"taskId": event.task_id, "status": event.status,
                                                       "previous": event.previous},
                                              log_cursor, notification_cursor))
                    changes = []
                    if reread or arrived:
                        changes = await notification_store.changed_since(db, notification_cursor, NOTIFICATION_PAGE)
                        for seq, notification in changes:
                            notification_cursor = seq
                            out.append(_frame("notification", notification, log_cursor, notification_cursor))
                    if out:
                        yield b"".join(out)
                    if log_subscription.closed:  # the daemon is stopping
                        return
                    more_changes = len(changes) == NOTIFICATION_PAGE
                    if log_subscription.wake.is_set() or more_changes:  # more lines or changes wait
                        arrived, reread = [], more_changes
                        continue
                    # A keepalive-long silence re-reads notifications, so rows written by code
                    # that published no event still arrive.
                    arrived, reread = await _wait(log_subscription, bus_subscription, shutdown, keepalive)
        finally:
            log_subscription.close()

    return sse_response(app, frames())


@endpoint(query=LogsQuery, response=LogPageOut, errors=(400,))
async def log_history(request):
    """A page (up to 500) of log lines after `after`, oldest first, of one task or of all;
    `more` when another page follows (extension)."""
    query = read_query(request, LogsQuery)
    subscription = request.app.state.logbus.subscribe(after=query.after, task_id=query.task_id)
    try:
        lines = await subscription.read_committed()
    finally:
        subscription.close()
    return ok({"lines": lines, "more": len(lines) >= REPLAY_PAGE})


routes = [
    Route("/api/events/stream", ui_stream, methods=["GET"]),
    Route("/api/events/logs", log_history, methods=["GET"]),
]

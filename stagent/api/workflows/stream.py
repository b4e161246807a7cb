"""GET /api/workflows/{id}/stream (extension): a workflow's progress over SSE.

Events (`data:` JSON with `event`): run_started / run_resumed, step_started, step_waiting (a
checkpoint asks), step_output (a line of the step task's log: `logEvent` and its `payload`),
step_finished (with the result or error), run_paused, run_finished, step_retry, retry_refused.
`id:` is the line's agent_logs seq, so Last-Event-ID resumes exactly; without it the stream
replays the latest run from its start, then follows live (pushed as lines commit, no polling).
"""

from __future__ import annotations

import functools

from starlette.routing import Route

from ...store import workflow_status as views
from .._http import endpoint
from .._sse import json_frame, last_event_id, sse_response

REPLAY_PAGE = 500


@endpoint(content_type="text/event-stream", errors=(400, 404))
async def stream_workflow(request):
    """SSE of the workflow's progress: run_started, step_started, step_output (its task's log
    lines), step_finished, run_finished … `id:` is the log sequence number, so Last-Event-ID
    resumes exactly; without it the stream replays the latest run, then follows live."""
    workflow_id, after = request.path_params["id"], last_event_id(request)
    db, logbus = request.app.state.db, request.app.state.logbus
    start, steps = await db.read(lambda conn: views.stream_start_in(conn, workflow_id))
    start = start if after is None else after

    async def events():
        horizon = max(logbus.last_seq, start)  # committed up to here: read from the database
        subscription = logbus.subscribe(after=horizon)
        try:
            cursor = start
            while rows := await db.read(functools.partial(views.lines_in, workflow_id=workflow_id, after=cursor,
                                                          upto=horizon, limit=REPLAY_PAGE)):
                cursor = rows[-1]["seq"]
                for row in rows:
                    if (frame := views.progress_event(row, workflow_id, steps)) is not None:
                        yield json_frame(frame, id=row["seq"])
            while rows := await subscription.next_batch():
                for row in rows:
                    if (frame := views.progress_event(row, workflow_id, steps)) is not None:
                        yield json_frame(frame, id=row["seq"])
        finally:
            subscription.close()

    return sse_response(request.app, events())


routes = [
    Route("/api/workflows/{id}/stream", stream_workflow, methods=["GET"]),
]

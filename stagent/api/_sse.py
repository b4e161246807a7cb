"""Server-sent events, shared by every stream of the daemon: the response, encoded frames (and
the per-app cache of log-line frames), and the one Last-Event-ID parser.

A stream's `id:` is a position the client hands back as Last-Event-ID (or `?lastEventId=`, for
clients that cannot set headers) when it reconnects: a sequence number SQLite holds, or, for
a stream that follows several sources, one such number per source joined by dots.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable
from typing import Any

from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from ..errors import Invalid
from ..sanitize import scrub

MAX_SEQ = 2 ** 63 - 1  # the largest integer SQLite holds
_DIGITS = re.compile(r"\d{1,19}")


def sse_response(app, frames: AsyncIterable) -> EventSourceResponse:
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


def json_frame(data: Any, *, id: int | str, event: str | None = None) -> bytes:
    """One event whose data is compact JSON. JSON text never holds a raw line break, so the
    data is always one `data:` line."""
    head = f"id: {id}\r\n" if event is None else f"id: {id}\r\nevent: {event}\r\n"
    text = f"{head}data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\r\n\r\n"
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as U+FFFD rather than cutting the stream
        return scrub(text).encode()


MESSAGE_CHARS = 500


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def log_message(event: str, payload: Any) -> str:
    """The documented `message` of a log event: the line in words (the raw `payload` stays)."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return _short(payload)
    p = payload if isinstance(payload, dict) else {}
    if event == "stream":
        return str(p.get("text", ""))
    if event in ("started", "session_resumed"):
        verb = "Resumed" if event == "session_resumed" else "Started"
        return f"{verb} with {p['model']}" if p.get("model") else verb
    if event == "tool_start":
        return _short(f"Using {p.get('tool', 'a tool')}: {_short(p.get('input', {}))}")
    if event == "tool_result":
        return _short(f"{p.get('tool', 'Tool')} returned: {p.get('output', '')}")
    if event == "retry":
        return _short(f"Retry {p.get('attempt', '?')} in {p.get('delaySeconds', '?')} s: {p.get('message', '')}")
    if event == "usage":
        return (f"{p.get('inputTokens', 0)} input + {p.get('outputTokens', 0)} output tokens"
                + (f" ({p['model']})" if p.get("model") else ""))
    if event == "completed":
        return _short(f"Completed: {p['result']}") if p.get("result") else "Completed"
    if isinstance(p.get("message"), str):
        return _short(p["message"])
    return _short(f"{event}: {_short(payload)}") if p or not isinstance(payload, dict) else event


def log_event(row: dict) -> dict:
    """A log row as the log streams send it: the raw row plus the catalog's `eventType` and
    `message` (the documented `{eventType, message, timestamp}`)."""
    return {**row, "eventType": row["event"], "message": log_message(row["event"], row.get("payload"))}


class FrameCache:
    """Encoded frames of recent log lines, shared by every subscriber of one app: with 1,000
    clients tailing one task, each line is serialised once, not once per client. Seqs only
    grow, so the oldest entry is always the first in the dict. A frame is `log_event(row)`."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self.frames: dict[int, bytes] = {}

    def frame(self, row: dict) -> bytes:
        frame = self.frames.get(row["seq"])
        if frame is None:
            frame = json_frame(log_event(row), id=row["seq"])
            self.frames[row["seq"]] = frame
            if len(self.frames) > self.size:
                del self.frames[next(iter(self.frames))]
        return frame


def sequence_number(raw: str, *, name: str, unit: str) -> int:
    """`raw` as a position from 0 to MAX_SEQ; anything else is a 400 naming `name`."""
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an integer {unit}") from None
    if value < 0:
        raise Invalid(f"{name} must not be negative")
    if value > MAX_SEQ:
        raise Invalid(f"{name} must be at most {MAX_SEQ}")
    return value


def last_event_id(request, *, unit: str = "log sequence number", parts: int = 1):
    """The position the client resumes after; None when it sent none (start from the stream's
    own beginning). With `parts` > 1 the id is that many dot-separated numbers, `unit` spells
    the form (e.g. `<log seq>.<notification seq>`), and a tuple comes back."""
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if not raw:
        return None
    if parts == 1:
        return sequence_number(raw, name="Last-Event-ID", unit=unit)
    fields = raw.strip().split(".")
    if len(fields) != parts or not all(_DIGITS.fullmatch(f) and int(f) <= MAX_SEQ for f in fields):
        raise Invalid(f"Last-Event-ID must be {unit}, as this stream sent it")
    return tuple(int(f) for f in fields)

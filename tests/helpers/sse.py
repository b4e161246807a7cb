"""A small SSE parser for tests: events with id/event/data, and comments (keepalives)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Event:
    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)

    def json(self):
        return json.loads(self.data)


def iter_events(lines, comments: list | None = None):
    """Parse an iterator of text lines (httpx `iter_lines`) into Events."""
    current = Event()
    for raw in lines:
        line = raw.rstrip("\r")
        if line == "":
            if current.data_lines or current.id is not None or current.event is not None:
                yield current
            current = Event()
            continue
        if line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            current.data_lines.append(value)
        elif name == "id":
            current.id = value
        elif name == "event":
            current.event = value
    if current.data_lines:
        yield current


def skip_until(events, name: str) -> Event:
    """Advance an event iterator to the first event whose JSON `event` field is `name`."""
    for event in events:
        if event.json()["event"] == name:
            return event
    raise AssertionError(f"the stream ended before a {name!r} event")

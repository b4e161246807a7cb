"""/api/logs/stream and per-task streams: ids, Last-Event-ID replay, filters, keepalive."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import Daemon
from tests.helpers.sse import iter_events


def append_lines(daemon, task_id, count, event="stream", start=0):
    """Write log lines through the daemon's own log bus, on its event loop, and wait for commit."""
    bus = daemon.app.state.logbus

    async def write():
        for i in range(start, start + count):
            bus.append(task_id, "test-agent", event, {"n": i})
        await bus.flush()

    asyncio.run_coroutine_threadsafe(write(), daemon.loop).result(timeout=10)


def make_task(client, title="t"):
    return client.post("/api/tasks", json={"title": title}).json()


def read_events(daemon, path, count, headers=None, comments=None):
    out = []
    with httpx.stream("GET", daemon.url + path, headers=headers or {}, timeout=30) as r:
        assert r.status_code == 200
        for event in iter_events(r.iter_lines(), comments):
            out.append(event)
            if len(out) == count:
                break
    return out


def test_every_event_has_a_monotonic_id_and_replay_resumes_after_last_event_id(daemon, client):
    task = make_task(client)
    append_lines(daemon, task["id"], 30)
    first = read_events(daemon, f"/api/logs/stream?taskId={task['id']}", 30)
    ids = [int(e.id) for e in first]
    assert ids == sorted(ids) and len(set(ids)) == 30
    assert [json.loads(e.json()["payload"])["n"] for e in first] == list(range(30))
    row = first[0].json()
    assert set(row) >= {"id", "taskId", "agentType", "event", "payload", "timestamp"}
    assert isinstance(row["payload"], str)

    append_lines(daemon, task["id"], 10, start=30)
    resumed = read_events(daemon, f"/api/logs/stream?taskId={task['id']}", 20,
                          headers={"Last-Event-ID": first[19].id})
    numbers = [json.loads(e.json()["payload"])["n"] for e in resumed]
    assert numbers == list(range(20, 40))  # no gap, no repeat


def test_rows_written_in_the_same_instant_are_all_delivered(daemon, client):
    task = make_task(client)
    append_lines(daemon, task["id"], 500)  # one batch, same millisecond for many rows
    events = read_events(daemon, f"/api/logs/stream?taskId={task['id']}", 500)
    assert [json.loads(e.json()["payload"])["n"] for e in events] == list(range(500))


def test_live_lines_are_pushed_to_a_connected_client(daemon, client):
    task = make_task(client)
    with httpx.stream("GET", f"{daemon.url}/api/logs/stream?taskId={task['id']}", timeout=30) as r:
        assert r.status_code == 200  # headers arrive before any line exists
        append_lines(daemon, task["id"], 3)
        events = iter_events(r.iter_lines())
        got = [json.loads(next(events).json()["payload"])["n"] for _ in range(3)]
    assert got == [0, 1, 2]


def test_filters_by_task_and_event_type(daemon, client):
    a, b = make_task(client, "a"), make_task(client, "b")
    append_lines(daemon, a["id"], 3, event="stream")
    append_lines(daemon, b["id"], 2, event="tool_start")
    append_lines(daemon, a["id"], 2, event="tool_start", start=3)
    only_b = read_events(daemon, f"/api/logs/stream?taskId={b['id']}", 2)
    assert {e.json()["taskId"] for e in only_b} == {b["id"]}
    tools = read_events(daemon, "/api/logs/stream?eventType=tool_start", 4)
    assert [e.json()["event"] for e in tools] == ["tool_start"] * 4
    both = read_events(daemon, f"/api/logs/stream?taskId={a['id']}&eventType=tool_start", 2)
    assert [json.loads(e.json()["payload"])["n"] for e in both] == [3, 4]


def test_bad_last_event_id_is_a_400(client):
    r = client.get("/api/logs/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]


def test_keepalive_comment_is_sent(tmp_path, client):
    quick = Daemon(tmp_path / "quick", sse_keepalive_seconds=0.2)
    try:
        comments: list[str] = []
        with httpx.stream("GET", f"{quick.url}/api/logs/stream", timeout=30) as r:
            for line in r.iter_lines():
                if line.startswith(":"):
                    comments.append(line)
                    break
        assert comments == [": keepalive"]
    finally:
        quick.stop()


def test_task_stream_of_a_finished_task_replays_and_closes(daemon, client):
    task = make_task(client)
    append_lines(daemon, task["id"], 4)
    client.patch(f"/api/tasks/{task['id']}", json={"status": "cancelled"})
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
        events = [e.json() for e in iter_events(r.iter_lines())]  # returns only because the server closes
    assert len(events) == 5
    assert events[-1]["event"] == "cancelled"  # a terminal status always comes with its line
    assert client.get("/api/tasks/missing/logs").status_code == 404

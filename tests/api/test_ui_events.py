"""/api/events/stream (the UI's one multiplexed SSE stream) and /api/events/logs (log history)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3

import httpx
import pytest

from tests.api.test_logs import append_lines, make_task
from tests.conftest import Daemon
from tests.helpers.processes import assert_stopped_cleanly, daemon_process
from tests.helpers.servers import free_port
from tests.helpers.sse import iter_events

CURSOR = re.compile(r"^(\d+)\.(\d+)$")


def add_notification(daemon, client, nid: str) -> None:
    """A notification written as any module may write it, then changed through the API (which
    publishes the change on the event bus)."""
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO notifications (id, type, title, body, created_at) VALUES (?,?,?,?,?)",
                     (nid, "agent_message", f"note {nid}", "b", "2026-01-01T00:00:00.000Z"))
    assert client.patch(f"/api/notifications/{nid}", json={"read": True}).status_code == 200


def numbers(events) -> list[int]:
    return [json.loads(e.json()["payload"])["n"] for e in events if e.event == "log"]


def ids(events) -> list[str]:
    return [e.json()["id"] for e in events if e.event == "notification"]


def read_until(events, done) -> list:
    out = []
    for event in events:
        out.append(event)
        if done(out):
            return out
    raise AssertionError(f"the stream ended after {out}")


def test_one_stream_carries_lines_notifications_and_status_changes_from_now_on(daemon, client):
    task = make_task(client)
    append_lines(daemon, task["id"], 3)          # before the client connects: not replayed
    add_notification(daemon, client, "old")
    with httpx.stream("GET", f"{daemon.url}/api/events/stream", timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = iter_events(r.iter_lines())
        ready = next(events)
        assert ready.event == "ready" and ready.json() == {}
        log_seq, notification_seq = map(int, CURSOR.match(ready.id).groups())

        append_lines(daemon, task["id"], 2, start=3)
        lines = [next(events), next(events)]
        assert [e.event for e in lines] == ["log", "log"] and numbers(lines) == [3, 4]
        row = lines[1].json()
        assert row["taskId"] == task["id"] and set(row) >= {"seq", "id", "agentType", "event", "payload", "timestamp"}
        assert lines[1].id == f"{row['seq']}.{notification_seq}" and row["seq"] > log_seq

        add_notification(daemon, client, "new")
        note = next(events)
        assert note.event == "notification" and note.json()["id"] == "new" and note.json()["read"] is True
        assert CURSOR.match(note.id)[1] == str(row["seq"]) and int(CURSOR.match(note.id)[2]) > notification_seq

        client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
        change = next(events)
        assert change.event == "task"
        assert change.json() == {"taskId": task["id"], "status": "queued", "previous": "planned"}


@pytest.mark.parametrize("how", ["header", "query"])
def test_last_event_id_resumes_both_sources_with_no_gap_and_no_repeat(daemon, client, how):
    task = make_task(client)
    with httpx.stream("GET", f"{daemon.url}/api/events/stream", timeout=30) as r:
        events = iter_events(r.iter_lines())
        assert next(events).event == "ready"
        append_lines(daemon, task["id"], 2)
        add_notification(daemon, client, "a")
        append_lines(daemon, task["id"], 2, start=2)
        add_notification(daemon, client, "b")
        live = read_until(events, lambda got: len(numbers(got)) == 4 and len(ids(got)) == 2)
    assert numbers(live) == [0, 1, 2, 3] and ids(live) == ["a", "b"]

    cut = next(i for i, e in enumerate(live) if e.event == "log" and numbers([e]) == [1])  # after line 1
    resume_at = live[cut].id
    headers = {"Last-Event-ID": resume_at} if how == "header" else {}
    query = "" if how == "header" else f"?lastEventId={resume_at}"
    with httpx.stream("GET", f"{daemon.url}/api/events/stream{query}", headers=headers, timeout=30) as r:
        events = iter_events(r.iter_lines())
        ready = next(events)
        assert ready.event == "ready" and ready.id == resume_at
        seen_before = ids(live[:cut + 1])
        resumed = read_until(events, lambda got: len(numbers(got)) == 2 and len(ids(got)) == 2 - len(seen_before))
    assert numbers(resumed) == [2, 3]                        # each source in order, from its own cursor
    assert ids(resumed) == [n for n in ["a", "b"] if n not in seen_before]


def test_a_resume_far_back_sends_every_change_page_after_page(tmp_path):
    patient = Daemon(tmp_path / "patient", sse_keepalive_seconds=3600)  # no keepalive re-read to lean on
    try:
        with sqlite3.connect(patient.data_dir / "stagent.db") as conn:
            conn.executemany("INSERT INTO notifications (id, type, title, created_at) VALUES (?,?,?,?)",
                             [(f"n{i:04}", "agent_message", "t", "2026-01-01T00:00:00.000Z") for i in range(1200)])
        with httpx.stream("GET", f"{patient.url}/api/events/stream", headers={"Last-Event-ID": "0.0"},
                          timeout=10) as r:
            events = iter_events(r.iter_lines())
            assert next(events).event == "ready"
            replayed = [next(events) for _ in range(1200)]
        assert [e.json()["id"] for e in replayed] == [f"n{i:04}" for i in range(1200)]
    finally:
        patient.stop()


@pytest.mark.parametrize("value", ["abc", "12", "1.2.3", "-1.0", "1.x", "99999999999999999999.1",
                                   "9223372036854775808.0"])
def test_a_last_event_id_this_stream_did_not_send_is_a_400(client, value):
    r = client.get("/api/events/stream", headers={"Last-Event-ID": value})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]
    assert client.get(f"/api/events/stream?lastEventId={value}").status_code == 400


def test_notifications_written_without_an_event_arrive_at_the_keepalive(tmp_path):
    quick = Daemon(tmp_path / "quick", sse_keepalive_seconds=0.2)
    try:
        with httpx.stream("GET", f"{quick.url}/api/events/stream", timeout=30) as r:
            events = iter_events(r.iter_lines())
            assert next(events).event == "ready"
            with sqlite3.connect(quick.data_dir / "stagent.db") as conn:
                conn.execute("INSERT INTO notifications (id, type, title, created_at) VALUES "
                             "('quiet', 'heartbeat_alert', 't', '2026-01-01T00:00:00.000Z')")
            note = next(events)
        assert note.event == "notification" and note.json()["id"] == "quiet"
    finally:
        quick.stop()


@pytest.mark.serial
def test_the_stream_ends_cleanly_when_the_daemon_stops(tmp_path, fake):
    port = free_port()
    with daemon_process(tmp_path / "data", port, fake) as proc:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/api/events/stream", timeout=30) as r:
            events = iter_events(r.iter_lines())
            assert next(events).event == "ready"
            proc.send_signal(signal.SIGTERM)
            assert list(events) == []  # the body ends, neither cut off nor hanging
        assert_stopped_cleanly(proc)


def test_log_history_pages_through_one_task(daemon, client):
    task, other = make_task(client, "a"), make_task(client, "b")
    append_lines(daemon, task["id"], 600)
    append_lines(daemon, other["id"], 5)
    first = client.get(f"/api/events/logs?taskId={task['id']}").json()
    assert len(first["lines"]) == 500 and first["more"] is True
    assert [json.loads(line["payload"])["n"] for line in first["lines"]] == list(range(500))
    after = first["lines"][-1]["seq"]
    second = client.get(f"/api/events/logs?taskId={task['id']}&after={after}").json()
    assert [json.loads(line["payload"])["n"] for line in second["lines"]] == list(range(500, 600))
    assert second["more"] is False
    assert {line["taskId"] for line in first["lines"] + second["lines"]} == {task["id"]}
    assert client.get("/api/events/logs?taskId=missing").json() == {"lines": [], "more": False}


@pytest.mark.parametrize("query", ["after=-1", "after=x", "after=9223372036854775808"])
def test_log_history_rejects_a_bad_cursor(client, query):
    r = client.get(f"/api/events/logs?{query}")
    assert r.status_code == 400 and "after" in r.json()["error"]["fieldErrors"]

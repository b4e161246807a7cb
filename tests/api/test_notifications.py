"""/api/notifications: the inbox, alerts from runs, pending approvals and both SSE streams."""

from __future__ import annotations

import json
import signal
import sqlite3

import httpx
import pytest

from tests.conftest import Daemon
from tests.engine.test_approvals import start_task, wait_for_request
from tests.helpers.processes import assert_stopped_cleanly, daemon_process
from tests.helpers.servers import free_port
from tests.helpers.sse import iter_events


def failed_task(client, title: str = "no provider") -> dict:
    """A task whose run cannot start (no provider configured): it fails and raises an alert."""
    task = client.post("/api/tasks", json={"title": title}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 400
    return task


def insert(daemon, *rows: tuple) -> None:
    """Rows written straight to the database, as other modules (heartbeat, budgets) may do."""
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.executemany("INSERT INTO notifications (id, task_id, type, title, body, tool_name, tool_input, "
                         "response, created_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)


def row(nid, type="agent_message", created="2026-01-01T00:00:00.000Z", task_id=None, tool=None, tool_input=None,
        response=None, title="t", body="b"):
    return (nid, task_id, type, title, body, tool, tool_input, response, created)


KEYS = {"id", "taskId", "type", "title", "body", "message", "read", "toolName", "toolInput", "response",
        "respondedAt", "createdAt", "conversationId", "expiresAt"}


def test_runs_raise_task_failed_and_task_completed_alerts(daemon, client, llm_env, monkeypatch):
    done = start_task(client, title="Write the summary")
    llm_env.enqueue_text("All done.")  # (the fake answers "ok" if the script is empty)
    daemon.wait_for_status(done["id"], {"completed"})
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("STAGENT_DEFAULT_MODEL")
    broken = failed_task(client)

    listed = client.get("/api/notifications").json()
    assert [(n["type"], n["taskId"]) for n in listed] == [("task_failed", broken["id"]),
                                                          ("task_completed", done["id"])]
    assert set(listed[0]) == KEYS
    assert listed[0]["title"] == "Task failed: no provider" and "provider" in listed[0]["body"]
    assert listed[1]["title"] == "Task completed: Write the summary"
    assert listed[0]["read"] is False and listed[0]["response"] is None and listed[0]["message"] == listed[0]["body"]


def test_list_filters_and_counts(daemon, client):
    insert(daemon, row("a", "heartbeat_alert", "2026-01-01T00:00:01.000Z"),
           row("b", "budget_alert", "2026-01-01T00:00:02.000Z"),
           row("c", "budget_alert", "2026-01-01T00:00:03.000Z"))
    assert [n["id"] for n in client.get("/api/notifications").json()] == ["c", "b", "a"]
    assert [n["id"] for n in client.get("/api/notifications?type=budget_alert").json()] == ["c", "b"]
    assert [n["id"] for n in client.get("/api/notifications?type=heartbeat_alert").json()] == ["a"]
    assert client.get("/api/notifications?type=nothing").json() == []
    client.patch("/api/notifications/c", json={"read": True})
    assert [n["id"] for n in client.get("/api/notifications?unread=true").json()] == ["b", "a"]
    assert [n["id"] for n in client.get("/api/notifications?unread=true&type=budget_alert").json()] == ["b"]
    assert client.get("/api/notifications?countOnly=true").json() == {"count": 2}       # unread
    assert client.get("/api/notifications?countOnly=true&type=budget_alert").json() == {"count": 2}
    assert client.get("/api/notifications?countOnly=true&type=budget_alert&unread=true").json() == {"count": 1}
    assert len(client.get("/api/notifications?unread=false").json()) == 3


def test_the_inbox_holds_the_newest_100(daemon, client):
    insert(daemon, *(row(f"n{i:03}", created=f"2026-01-01T00:{i // 60:02}:{i % 60:02}.000Z") for i in range(105)))
    listed = client.get("/api/notifications").json()
    assert len(listed) == 100 and listed[0]["id"] == "n104" and listed[-1]["id"] == "n005"
    assert client.get("/api/notifications?countOnly=true").json() == {"count": 105}


def test_mark_read_unread_and_errors(daemon, client):
    insert(daemon, row("a"))
    r = client.patch("/api/notifications/a", json={})
    assert r.status_code == 200 and r.json()["read"] is True and set(r.json()) == KEYS
    assert client.patch("/api/notifications/a", json={"read": False}).json()["read"] is False
    assert client.patch("/api/notifications/a").json()["read"] is True  # no body: read
    r = client.patch("/api/notifications/missing", json={"read": True})
    assert r.status_code == 404 and r.json() == {"error": "Not found"}
    r = client.patch("/api/notifications/a", json={"read": "no"})
    assert r.status_code == 400 and r.json() == {"error": "read must be a boolean"}
    assert client.patch("/api/notifications/a", content=b"{").status_code == 400
    assert client.get("/api/notifications/a").status_code == 405


def test_delete_and_mark_all_read(daemon, client):
    insert(daemon, row("a"), row("b"), row("c"))
    assert client.delete("/api/notifications/a").json() == {"success": True}
    r = client.delete("/api/notifications/a")
    assert r.status_code == 200 and r.json() == {"success": True}
    assert [n["id"] for n in client.get("/api/notifications").json()] == ["c", "b"]
    r = client.patch("/api/notifications/mark-all-read")
    assert r.status_code == 200 and r.json() == {"success": True}
    assert client.get("/api/notifications?countOnly=true").json() == {"count": 0}
    assert client.patch("/api/notifications/mark-all-read").json() == {"success": True}


def test_pending_approvals_payloads(daemon, client):
    task = client.post("/api/tasks", json={"title": "Deploy"}).json()
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO workflows (id, name, definition, created_at, updated_at) "
                     "VALUES ('w1', 'Release', '{}', '2026-01-01', '2026-01-01')")
        conn.execute("UPDATE tasks SET workflow_id = 'w1' WHERE id = ?", (task["id"],))
    insert(daemon,
           row("p1", "permission_required", "2026-01-01T00:00:01.000Z", task["id"], "run_command",
               json.dumps({"command": "git push origin main"}), title="Permission required: run_command"),
           row("p2", "permission_required", "2026-01-01T00:00:02.000Z", None, "mcp__github__create_issue",
               json.dumps({"repo": "a/b", "title": "Bug"})),
           row("p3", "context_proposal", "2026-01-01T00:00:03.000Z", None, "researcher", None),
           row("p4", "permission_required", "2026-01-01T00:00:04.000Z", None, "WorkflowCheckpoint",
               json.dumps({"workflowId": "w1", "stepId": "s1", "stepName": "Ship"})),
           row("done", "permission_required", "2026-01-01T00:00:05.000Z", task["id"], "x", "{}",
               response='{"behavior":"allow"}'),
           row("info", "task_failed", "2026-01-01T00:00:06.000Z", task["id"]))
    items = {i["notificationId"]: i for i in client.get("/api/notifications/pending-approvals").json()}
    assert list(items) == ["p4", "p3", "p2", "p1"]
    p1 = items["p1"]
    assert p1["channel"] == "in_app" and p1["id"] == "p1" and p1["taskId"] == task["id"]
    assert (p1["workflowId"], p1["workflowName"], p1["taskTitle"]) == ("w1", "Release", "Deploy")
    assert p1["permissionLabel"] == "run_command" and p1["compactSummary"] == "git push origin main"
    assert p1["deepLink"] == f"/tasks/{task['id']}" and p1["toolInput"] == {"command": "git push origin main"}
    assert p1["supportedActionIds"] == ["allow_once", "always_allow", "deny", "open_inbox"]
    assert p1["suggestedPattern"] == "run_command(command:git *)" and p1["notificationType"] == "permission_required"
    assert p1["read"] is False and p1["createdAt"] == "2026-01-01T00:00:01.000Z" and p1["message"] == "b"
    assert items["p2"]["permissionLabel"] == "MCP github/create_issue" and items["p2"]["compactSummary"] == "a/b"
    assert items["p2"]["deepLink"] == "/inbox"
    assert items["p3"]["permissionLabel"] == "Context Proposal" and items["p3"]["deepLink"] == "/profiles/researcher"
    assert items["p3"]["supportedActionIds"] == ["allow_once", "deny"] and items["p3"]["toolInput"] is None
    assert items["p4"]["workflowId"] == "w1" and items["p4"]["deepLink"] == "/workflows/w1"
    assert (items["p4"]["workflowName"], items["p4"]["taskTitle"]) == ("Release", None)  # found through its input
    assert items["p4"]["permissionLabel"] == "Workflow checkpoint"
    assert items["p4"]["compactSummary"] == "Approve before step: Ship"
    assert (items["p4"]["supportedActionIds"], items["p4"]["suggestedPattern"]) == (["allow_once", "deny"], None)


def test_pending_approvals_are_at_most_20(daemon, client):
    insert(daemon, *(row(f"p{i:02}", "permission_required", f"2026-01-01T00:00:{i:02}.000Z", tool="x",
                         tool_input="{}") for i in range(25)))
    items = client.get("/api/notifications/pending-approvals").json()
    assert len(items) == 20 and items[0]["notificationId"] == "p24"


def test_deleting_a_waiting_request_denies_the_call(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "dismiss me"})
    llm_env.enqueue_text("fine")
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    client.delete(f"/api/notifications/{request['notificationId']}")
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    tool_results = [m["content"] for m in llm_env.requests[1]["messages"] if m["role"] == "tool"]
    assert tool_results == ["Permission denied: The permission request was dismissed"]


def test_the_inbox_answers_a_request_by_its_id(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "from the inbox"})
    llm_env.enqueue_text("made it")
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    url = f"/api/notifications/{request['notificationId']}/respond"
    assert client.post(url, json={"behavior": "maybe"}).status_code == 400
    assert client.post("/api/notifications/ghost/respond", json={"behavior": "allow"}).status_code == 404
    r = client.post(url, json={"behavior": "allow"})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["response"])["behavior"] == "allow"
    assert client.post(url, json={"behavior": "deny"}).status_code == 409  # answered once
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    titles = [t["title"] for t in client.get("/api/tasks").json()]
    assert "from the inbox" in titles


# ---- SSE -----------------------------------------------------------------------------------------

def open_stream(url: str, path: str, headers: dict | None = None):
    return httpx.stream("GET", f"{url}{path}", headers=headers or {}, timeout=30)


def test_pending_approvals_stream_follows_the_set(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "streamed"})
    llm_env.enqueue_text("done")
    with open_stream(daemon.url, "/api/notifications/pending-approvals/stream") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = iter_events(r.iter_lines())
        first = next(events)
        assert first.json() == [] and first.id is not None
        task = start_task(client)
        asked = next(events)
        assert [i["toolName"] for i in asked.json()] == ["create_task"] and int(asked.id) > int(first.id)
        client.post(f"/api/tasks/{task['id']}/respond",
                    json={"notificationId": asked.json()[0]["notificationId"], "behavior": "allow"})
        answered = next(events)
        assert answered.json() == [] and int(answered.id) > int(asked.id)
    daemon.wait_for_status(task["id"], {"completed"})


def test_pending_approvals_stream_resumes_with_last_event_id(tmp_path, llm_env):
    daemon = Daemon(tmp_path / "data", sse_keepalive_seconds=0.2)
    try:
        with open_stream(daemon.url, "/api/notifications/pending-approvals/stream") as r:
            first = next(iter_events(r.iter_lines()))
        # Resuming at the version it has: no frame until the set changes (a keepalive comes first).
        comments: list[str] = []
        llm_env.enqueue_tool_call("create_task", {"title": "after resume"})
        with open_stream(daemon.url, "/api/notifications/pending-approvals/stream",
                         {"Last-Event-ID": first.id}) as r:
            lines = r.iter_lines()
            for line in lines:
                if line.startswith(":"):
                    break
                assert not line.startswith("data:"), "a frame was sent although nothing changed"
            start_task(daemon.client)
            frame = next(iter_events(lines, comments))
            assert [i["toolName"] for i in frame.json()] == ["create_task"]
        # Resuming at an older version: the current set at once.
        with open_stream(daemon.url, "/api/notifications/pending-approvals/stream",
                         {"Last-Event-ID": first.id}) as r:
            frame = next(iter_events(r.iter_lines()))
            assert [i["toolName"] for i in frame.json()] == ["create_task"] and frame.id != first.id
        bad = daemon.client.get("/api/notifications/pending-approvals/stream", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 400
    finally:
        daemon.stop()


def test_notification_stream_replays_after_last_event_id(daemon, client):
    with open_stream(daemon.url, "/api/notifications/stream") as r:
        events = iter_events(r.iter_lines())
        a = failed_task(client, "first")
        first = next(events)
        b = failed_task(client, "second")
        second = next(events)
    assert (first.json()["taskId"], second.json()["taskId"]) == (a["id"], b["id"])
    assert int(second.id) > int(first.id)
    client.patch(f"/api/notifications/{first.json()['id']}", json={"read": True})  # a change counts too
    failed_task(client, "third")
    with open_stream(daemon.url, "/api/notifications/stream", {"Last-Event-ID": second.id}) as r:
        events = iter_events(r.iter_lines())
        replay = [next(events), next(events)]
    assert [e.json()["title"] for e in replay] == ["Task failed: first", "Task failed: third"]
    assert replay[0].json()["read"] is True and int(replay[0].id) > int(second.id)
    with open_stream(daemon.url, f"/api/notifications/stream?after={first.id}") as r:
        assert next(iter_events(r.iter_lines())).json()["title"] == "Task failed: second"


@pytest.mark.serial
def test_streams_end_cleanly_when_the_daemon_stops(tmp_path, fake):
    port = free_port()
    with daemon_process(tmp_path / "data", port, fake) as proc:
        url = f"http://127.0.0.1:{port}"
        with open_stream(url, "/api/notifications/pending-approvals/stream") as pending, \
                open_stream(url, "/api/notifications/stream") as changes:
            events = iter_events(pending.iter_lines())
            assert next(events).json() == []
            proc.send_signal(signal.SIGTERM)
            assert list(events) == [] and list(iter_events(changes.iter_lines())) == []  # ended, not cut
        assert_stopped_cleanly(proc)


@pytest.mark.parametrize("path", ["/api/notifications/pending-approvals/stream", "/api/notifications/stream"])
def test_streams_refuse_a_bad_last_event_id(client, path):
    for value in ("abc", "-1"):
        r = client.get(path, headers={"Last-Event-ID": value})
        assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]


def refused(url: str, path: str, headers: dict | None = None) -> dict:
    """The 400 body of a stream request (a stream that opens fails the test instead of hanging)."""
    with open_stream(url, path, headers) as r:
        assert r.status_code == 400
        return json.loads(r.read())


@pytest.mark.parametrize("path", ["/api/notifications/pending-approvals/stream", "/api/notifications/stream"])
def test_streams_refuse_a_sequence_number_sqlite_cannot_hold(daemon, path):
    for header in (str(2 ** 63), str(2 ** 70)):
        assert "Last-Event-ID" in refused(daemon.url, path, {"Last-Event-ID": header})["error"]
    assert "Last-Event-ID" in refused(daemon.url, f"{path}?lastEventId={2 ** 70}")["error"]
    with open_stream(daemon.url, path, {"Last-Event-ID": str(2 ** 63 - 1)}) as r:
        assert r.status_code == 200  # the largest value SQLite holds is still a valid position


def test_the_notification_stream_refuses_a_huge_after(daemon):
    assert "after" in refused(daemon.url, f"/api/notifications/stream?after={2 ** 70}")["error"]


@pytest.mark.parametrize("path", ["/api/notifications/pending-approvals/stream", "/api/notifications/stream"])
def test_a_head_request_leaves_no_subscription_behind(daemon, client, path):
    bus = daemon.app.state.events
    before = len(bus._subscribers)
    for _ in range(3):
        r = client.head(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert len(bus._subscribers) == before

"""Approvals end to end: a real run asks, the answer arrives over HTTP, the same run goes on.

Runs go through the real runner, litellm and the fake provider; the waits read the real
pending-approvals SSE stream (no polling of our own).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import sqlite3

import httpx
import pytest

from tests.conftest import Daemon
from tests.helpers.processes import daemon_process
from tests.helpers.servers import free_port
from tests.helpers.sse import iter_events


def start_task(client, title: str = "Plan the follow-ups", **fields) -> dict:
    task = client.post("/api/tasks", json={"title": title, **fields}).json()
    assert client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"}).status_code == 200
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    return task


def wait_for_request(url: str, task_id: str | None = None) -> dict:
    """The first pending approval (of `task_id`), read from the pending-approvals SSE stream."""
    with httpx.stream("GET", f"{url}/api/notifications/pending-approvals/stream", timeout=60) as r:
        for event in iter_events(r.iter_lines()):
            items = [i for i in event.json() if task_id is None or i["taskId"] == task_id]
            if items:
                return items[0]
    raise AssertionError("the stream ended before a request was pending")


def log_rows(daemon, task_id: str) -> list[dict]:
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task_id}/logs", timeout=60) as r:
        rows = [e.json() for e in iter_events(r.iter_lines())]  # closes when the task has ended
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def tool_messages(request_body: dict) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "tool"]


def test_a_call_outside_the_allow_list_waits_and_an_approval_resumes_the_same_run(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up with Ana"}, call_id="c1")
    llm_env.enqueue_text("Created the follow-up.")
    task = start_task(client)

    request = wait_for_request(daemon.url, task["id"])
    assert request["toolName"] == "create_task" and request["toolInput"] == {"title": "Follow up with Ana"}
    assert request["supportedActionIds"] == ["allow_once", "always_allow", "deny", "open_inbox"]
    assert request["deepLink"] == f"/tasks/{task['id']}" and request["taskTitle"] == "Plan the follow-ups"
    assert request["suggestedPattern"] == "create_task"
    # Paused, not failed: still running, and the wait is in its provenance.
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "running"
    provenance = client.get(f"/api/tasks/{task['id']}/provenance").json()
    assert provenance["pendingApproval"]["notificationId"] == request["notificationId"]
    assert [e["status"] for e in provenance["timeline"] if e["type"] == "approval"] == ["pending"]
    assert len(llm_env.requests) == 1  # nothing moves while it waits

    r = client.post(f"/api/tasks/{task['id']}/respond",
                    json={"notificationId": request["notificationId"], "behavior": "allow"})
    assert r.status_code == 200 and r.json() == {"success": True}

    rows = log_rows(daemon, task["id"])
    events = [row["event"] for row in rows]
    assert events.count("started") == 1 and events[-1] == "completed"
    asked = events.index("permission_request")
    assert events[asked + 1:asked + 3] == ["permission_response", "tool_result"]
    assert rows[asked]["payload"]["notificationId"] == request["notificationId"]
    assert rows[asked + 1]["payload"]["behavior"] == "allow"
    follow_ups = [t for t in client.get("/api/tasks").json() if t["title"] == "Follow up with Ana"]
    assert len(follow_ups) == 1 and follow_ups[0]["status"] == "planned"
    assert client.get(f"/api/tasks/{task['id']}").json()["result"] == "Created the follow-up."
    assert client.get("/api/notifications/pending-approvals").json() == []
    again = client.post(f"/api/tasks/{task['id']}/respond",
                        json={"notificationId": request["notificationId"], "behavior": "deny"})
    assert again.status_code == 409 and again.json() == {"error": "Already responded"}


def test_read_only_tools_run_without_asking(daemon, client, llm_env, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(tmp_path)}).json()
    llm_env.enqueue_tool_calls([("list_files", {}, "c1"), ("read_file", {"path": "notes.txt"}, "c2")])
    llm_env.enqueue_text("done")
    task = start_task(client, projectId=project["id"])
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert client.get("/api/notifications?type=permission_required").json() == []
    assert tool_messages(llm_env.requests[1])[1] == "hello"


def test_always_allow_saves_the_pattern_and_the_next_call_does_not_ask(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "first"})
    llm_env.enqueue_text("one")
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "allow", "alwaysAllow": True})
    daemon.wait_for_status(task["id"], {"completed"})
    assert client.get("/api/permissions").json() == {"permissions": ["create_task"]}
    stored = client.get("/api/notifications?type=permission_required").json()[0]
    assert json.loads(stored["response"]) == {"behavior": "allow", "alwaysAllow": True,
                                              "permissionPattern": "create_task"}

    llm_env.enqueue_tool_call("create_task", {"title": "second"})
    llm_env.enqueue_text("two")
    second = start_task(client, title="again")
    assert daemon.wait_for_status(second["id"], {"completed", "failed"})["status"] == "completed"
    assert len(client.get("/api/notifications?type=permission_required").json()) == 1
    assert any(t["title"] == "second" for t in client.get("/api/tasks").json())


def test_always_allow_with_a_pattern_saves_that_pattern(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Invoice March"})
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    bad = client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "allow", "alwaysAllow": True,
        "permissionPattern": "create_task(title"})
    assert bad.status_code == 400 and client.get("/api/notifications/pending-approvals").json() != []
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "allow", "alwaysAllow": True,
        "permissionPattern": "create_task(title:Invoice *)"})
    daemon.wait_for_status(task["id"], {"completed"})
    assert client.get("/api/permissions").json() == {"permissions": ["create_task(title:Invoice *)"]}


def test_deny_tells_the_model_and_the_run_goes_on(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Spam everyone"}, call_id="c1")
    llm_env.enqueue_text("Understood, I will not create it.")
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "deny", "message": "Not now, please"})
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["result"] == "Understood, I will not create it."
    assert tool_messages(llm_env.requests[1]) == ["Permission denied: Not now, please"]
    assert not any(t["title"] == "Spam everyone" for t in client.get("/api/tasks").json())
    response = [row for row in log_rows(daemon, task["id"]) if row["event"] == "permission_response"]
    assert response[0]["payload"]["behavior"] == "deny"


def test_allow_with_edited_input_runs_the_edited_call(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Draft"})
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "allow", "updatedInput": {"title": "Final"}})
    daemon.wait_for_status(task["id"], {"completed"})
    titles = {t["title"] for t in client.get("/api/tasks").json()}
    assert "Final" in titles and "Draft" not in titles


def test_an_unanswered_request_is_denied_after_the_timeout(daemon, client, llm_env):
    assert client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 0.3}).status_code == 200
    llm_env.enqueue_tool_call("create_task", {"title": "never"})
    llm_env.enqueue_text("gave up")
    task = start_task(client)
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed"
    assert tool_messages(llm_env.requests[1]) == ["Permission denied: Permission request timed out"]
    notification = client.get("/api/notifications?type=permission_required").json()[0]
    assert json.loads(notification["response"]) == {"behavior": "deny", "message": "Permission request timed out"}
    assert client.get("/api/notifications/pending-approvals").json() == []


def test_cancelling_a_waiting_task_closes_its_request(daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "x"})
    task = start_task(client)
    request = wait_for_request(daemon.url, task["id"])
    assert client.post(f"/api/tasks/{task['id']}/cancel").status_code == 200
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "cancelled"
    assert client.get("/api/notifications/pending-approvals").json() == []
    late = client.post(f"/api/tasks/{task['id']}/respond",
                       json={"notificationId": request["notificationId"], "behavior": "allow"})
    assert late.status_code == 409

    # Resume continues the saved conversation; the call it stopped at gets a result first.
    llm_env.enqueue_text("resumed")
    assert client.post(f"/api/tasks/{task['id']}/resume").status_code == 202
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    sent = llm_env.requests[-1]["messages"]
    call = next(i for i, m in enumerate(sent) if m.get("tool_calls"))
    assert sent[call + 1] == {"role": "tool", "tool_call_id": "call_0",
                              "content": "Not run: the previous run stopped before this call."}
    assert sent[call + 2]["role"] == "user"


def test_project_additions_allow_calls_in_that_project_only(daemon, client, llm_env, tmp_path):
    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(tmp_path)}).json()
    r = client.post("/api/permissions", json={"pattern": "create_task", "projectId": project["id"]})
    assert r.status_code == 200
    llm_env.enqueue_tool_call("create_task", {"title": "inside"})
    llm_env.enqueue_text("ok")
    inside = start_task(client, projectId=project["id"])
    assert daemon.wait_for_status(inside["id"], {"completed", "failed"})["status"] == "completed"
    assert client.get("/api/notifications?type=permission_required").json() == []

    llm_env.enqueue_tool_call("create_task", {"title": "outside"})
    outside = start_task(client)
    assert wait_for_request(daemon.url, outside["id"])["toolName"] == "create_task"


def test_patterns_written_for_the_original_govern_our_tools(daemon, client, llm_env, tmp_path):
    # Read is auto-allowed anyway; the original's name for our tools also works in the MCP form.
    client.post("/api/permissions", json={"pattern": "mcp__stagent__create_task"})
    llm_env.enqueue_tool_call("create_task", {"title": "via mcp name"})
    llm_env.enqueue_text("ok")
    task = start_task(client)
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert client.get("/api/notifications?type=permission_required").json() == []


def test_a_graceful_restart_keeps_the_request_and_the_answer_continues_the_run(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    llm_env.enqueue_tool_call("create_task", {"title": "After restart"}, call_id="c1")
    llm_env.enqueue_text("Done after the restart.")
    task = start_task(first.client)
    request = wait_for_request(first.url, task["id"])
    first.stop()

    second = Daemon(data_dir)
    try:
        client = second.client
        assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "running"
        assert [p["notificationId"] for p in client.get("/api/notifications/pending-approvals").json()] == \
            [request["notificationId"]]
        assert client.get(f"/api/tasks/{task['id']}/provenance").json()["pendingApproval"] is not None
        r = client.post(f"/api/tasks/{task['id']}/respond",
                        json={"notificationId": request["notificationId"], "behavior": "allow"})
        assert r.status_code == 200
        done = second.wait_for_status(task["id"], {"completed", "failed"})
        assert done["status"] == "completed" and done["result"] == "Done after the restart."
        assert any(t["title"] == "After restart" for t in client.get("/api/tasks").json())
        # The provider saw one conversation: the tool call, then its result after the restart.
        assert len(llm_env.requests) == 2
        assert tool_messages(llm_env.requests[1]) == [json.dumps({
            "taskId": next(t["id"] for t in client.get("/api/tasks").json() if t["title"] == "After restart"),
            "title": "After restart", "status": "planned"})]
        events = [row["event"] for row in log_rows(second, task["id"])]
        assert events.count("tool_start") == 1 and "error" not in events and events[-1] == "completed"
    finally:
        second.stop()


def test_a_request_that_expired_while_the_daemon_was_down_is_denied_on_start(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    llm_env.enqueue_tool_call("create_task", {"title": "stale"})
    llm_env.enqueue_text("moved on")
    task = start_task(first.client)
    request = wait_for_request(first.url, task["id"])
    first.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:
        conn.execute("UPDATE notifications SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?",
                     (request["notificationId"],))

    second = Daemon(data_dir)
    try:
        done = second.wait_for_status(task["id"], {"completed", "failed"})
        assert done["status"] == "completed" and done["result"] == "moved on"
        assert tool_messages(llm_env.requests[-1]) == ["Permission denied: Permission request timed out"]
    finally:
        second.stop()


def test_a_pattern_added_while_the_daemon_was_down_lets_the_paused_call_run(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    llm_env.enqueue_tool_call("create_task", {"title": "allowed meanwhile"})
    llm_env.enqueue_text("ran it")
    task = start_task(first.client)
    wait_for_request(first.url, task["id"])
    first.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('permissions.allow', "
                     "'[\"create_task\"]', '2026-01-01T00:00:00.000Z')")

    second = Daemon(data_dir)
    try:
        assert second.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
        assert any(t["title"] == "allowed meanwhile" for t in second.client.get("/api/tasks").json())
        assert second.client.get("/api/notifications/pending-approvals").json() == []
        closed = second.client.get("/api/notifications?type=permission_required").json()[0]
        assert json.loads(closed["response"])["message"].startswith("Superseded")
    finally:
        second.stop()


@pytest.mark.serial
def test_sigkill_while_waiting_keeps_the_run_resumable(tmp_path, fake):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake) as proc:
        fake.enqueue_tool_call("create_task", {"title": "Survives kill"}, call_id="k1")
        fake.enqueue_text("Finished after the crash.")
        task = httpx.post(f"{base}/api/tasks", json={"title": "crashy"}).json()
        httpx.patch(f"{base}/api/tasks/{task['id']}", json={"status": "queued"})
        httpx.post(f"{base}/api/tasks/{task['id']}/execute")
        request = wait_for_request(base, task["id"])
        with sqlite3.connect(data_dir / "stagent.db") as conn:  # saved before the request was
            saved = conn.execute("SELECT messages FROM agent_sessions WHERE task_id = ?", (task["id"],)).fetchone()
        assert '"k1"' in saved[0], "the call asked about is in the saved conversation"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    with daemon_process(data_dir, port, fake) as proc:
        assert httpx.get(f"{base}/api/tasks/{task['id']}").json()["status"] == "running"
        r = httpx.post(f"{base}/api/tasks/{task['id']}/respond",
                       json={"notificationId": request["notificationId"], "behavior": "allow"})
        assert r.status_code == 200
        with httpx.stream("GET", f"{base}/api/tasks/{task['id']}/logs", timeout=60) as stream:
            events = [e.json()["event"] for e in iter_events(stream.iter_lines())]
        assert events[-1] == "completed"
        assert httpx.get(f"{base}/api/tasks/{task['id']}").json()["result"] == "Finished after the crash."
        assert any(t["title"] == "Survives kill" for t in httpx.get(f"{base}/api/tasks").json())


def test_a_chat_turn_that_ends_while_waiting_closes_its_request(daemon, client):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES ('c1', '2026', '2026')")
    permissions = daemon.app.state.permissions
    seen = []
    turn = asyncio.run_coroutine_threadsafe(permissions.check_tool(
        tool="create_project", args={"name": "x"}, conversation_id="c1", on_request=seen.append), daemon.loop)
    request = wait_for_request(daemon.url)
    assert request["conversationId"] == "c1" and request["deepLink"] == "/chat/c1" and request["taskId"] is None
    assert seen[0]["id"] == request["notificationId"]
    turn.cancel()  # the chat stream went away
    with pytest.raises(concurrent.futures.CancelledError):
        turn.result(timeout=10)
    assert wait_for_pending(daemon.url, []) == []
    r = client.post("/api/tasks/any/respond", json={"notificationId": request["notificationId"], "behavior": "allow"})
    assert r.status_code == 404  # not a task's request


def test_a_chat_turn_gets_the_answer(daemon):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES ('c1', '2026', '2026')")
    permissions = daemon.app.state.permissions
    turn = asyncio.run_coroutine_threadsafe(permissions.check_tool(
        tool="create_project", args={"name": "x"}, conversation_id="c1"), daemon.loop)
    request = wait_for_request(daemon.url)
    asyncio.run_coroutine_threadsafe(permissions.respond(
        request["notificationId"], behavior="allow", updated_input={"name": "y"}, conversation_id="c1"),
        daemon.loop).result(timeout=10)
    decision = turn.result(timeout=10)
    assert decision.allowed and decision.args == {"name": "y"} and decision.request_id == request["notificationId"]


def test_requests_nobody_can_wait_on_are_closed_at_start(tmp_path):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    task = first.client.post("/api/tasks", json={"title": "not running"}).json()
    first.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES ('c1', '2026', '2026')")
        conn.executemany(
            "INSERT INTO notifications (id, task_id, conversation_id, type, title, tool_name, tool_input, created_at) "
            "VALUES (?, ?, ?, 'permission_required', 't', ?, '{}', '2026-01-01T00:00:00.000Z')",
            [("chat", None, "c1", "create_project"), ("task", task["id"], None, "create_task"),
             ("checkpoint", None, None, "WorkflowCheckpoint")])
    second = Daemon(data_dir)
    try:
        pending = second.client.get("/api/notifications/pending-approvals").json()
        assert [p["notificationId"] for p in pending] == ["checkpoint"]
        closed = {n["id"]: n for n in second.client.get("/api/notifications?type=permission_required").json()}
        assert json.loads(closed["chat"]["response"])["behavior"] == "deny"
        assert json.loads(closed["task"]["response"])["behavior"] == "deny"
    finally:
        second.stop()


def wait_for_pending(url: str, wanted: list) -> list:
    """Read the pending-approvals stream until the set's ids are `wanted`."""
    with httpx.stream("GET", f"{url}/api/notifications/pending-approvals/stream", timeout=60) as r:
        for event in iter_events(r.iter_lines()):
            if [i["notificationId"] for i in event.json()] == wanted:
                return wanted
    raise AssertionError("the stream ended first")

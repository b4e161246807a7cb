"""/api/handoffs: send, approve into a task of the recipient profile, reject, expire, every
documented status code, and the send_handoff tool stopped at the chain-depth cap."""

from __future__ import annotations

import sqlite3

from tests.api.test_memory import wait_for

HANDOFF = {"fromProfileId": "general", "toProfileId": "researcher", "subject": "Find sources",
           "body": "Collect three sources on SQLite WAL mode."}


def test_validation_and_status_codes(client):
    for missing in ("fromProfileId", "toProfileId", "subject", "body"):
        r = client.post("/api/handoffs", json={k: v for k, v in HANDOFF.items() if k != missing})
        assert r.status_code == 400 and isinstance(r.json()["error"], str)
    assert client.post("/api/handoffs", json={**HANDOFF, "subject": "  "}).status_code == 400
    assert client.post("/api/handoffs", json={**HANDOFF, "toProfileId": "general"}).status_code == 400
    assert client.post("/api/handoffs", json={**HANDOFF, "toProfileId": "nobody"}).status_code == 400
    assert client.post("/api/handoffs", json={**HANDOFF, "parentMessageId": "ghost"}).status_code == 400
    assert client.post("/api/handoffs", json={**HANDOFF, "sourceTaskId": "ghost"}).status_code == 400
    assert client.get("/api/handoffs", params={"status": "lost"}).status_code == 400
    assert client.get("/api/handoffs/none").json() == {"error": "Handoff not found"}
    assert client.get("/api/handoffs/none").status_code == 404
    assert client.patch("/api/handoffs/none", json={"action": "approve"}).status_code == 404
    assert client.get("/api/handoffs").json() == []


def test_pending_handoff_waits_in_inbox_then_approved_into_a_task(daemon, client, llm_env):
    source = client.post("/api/tasks", json={"title": "Write the report"}).json()
    r = client.post("/api/handoffs", json={**HANDOFF, "requiresApproval": True, "sourceTaskId": source["id"]})
    assert r.status_code == 201
    handoff = r.json()
    assert handoff["status"] == "pending" and handoff["requiresApproval"] is True
    assert handoff["taskId"] == source["id"] and handoff["chainDepth"] == 0 and handoff["expiresAt"]
    inbox = client.get("/api/notifications", params={"type": "agent_message"}).json()
    assert len(inbox) == 1 and handoff["id"] in inbox[0]["toolInput"]
    assert client.patch(f"/api/handoffs/{handoff['id']}", json={"action": "maybe"}).status_code == 400

    llm_env.enqueue_text("Three sources found.")
    r = client.patch(f"/api/handoffs/{handoff['id']}", json={"action": "approve", "approvedBy": "me"})
    assert r.status_code == 200
    approved = r.json()
    assert approved["status"] == "in_progress" and approved["approvedBy"] == "me" and approved["respondedAt"]
    task = daemon.wait_for_status(approved["targetTaskId"], {"completed"})
    assert task["agentProfile"] == "researcher" and task["title"] == "Handoff: Find sources"
    assert "SQLite WAL" in task["description"]
    done = wait_for(lambda: (h := client.get(f"/api/handoffs/{handoff['id']}").json())["status"] == "completed" and h)
    assert done["targetTaskId"] == task["id"]
    assert client.patch(f"/api/handoffs/{handoff['id']}", json={"action": "reject"}).status_code == 409
    assert client.get("/api/notifications", params={"type": "agent_message"}).json()[0]["response"] is not None
    assert [h["id"] for h in client.get("/api/handoffs", params={"profileId": "researcher"}).json()] == [handoff["id"]]
    assert client.get("/api/handoffs", params={"profileId": "general"}).json() == []


def test_reject_and_expire(daemon, client):
    rejected = client.post("/api/handoffs", json={**HANDOFF, "requiresApproval": True}).json()
    r = client.patch(f"/api/handoffs/{rejected['id']}", json={"action": "reject"})
    assert r.json()["status"] == "rejected" and r.json()["targetTaskId"] is None
    stale = client.post("/api/handoffs", json={**HANDOFF, "requiresApproval": True}).json()
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE agent_messages SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (stale["id"],))
    assert client.get(f"/api/handoffs/{stale['id']}").json()["status"] == "expired"
    assert client.patch(f"/api/handoffs/{stale['id']}", json={"action": "approve"}).status_code == 409
    statuses = {h["id"]: h["status"] for h in client.get("/api/handoffs").json()}
    assert statuses == {rejected["id"]: "rejected", stale["id"]: "expired"}
    assert [h["id"] for h in client.get("/api/handoffs", params={"status": "expired"}).json()] == [stale["id"]]


def test_ping_pong_between_agents_stops_at_the_cap(daemon, client, llm_env):
    """Each run hands the work to the other profile; the sixth hand-off is refused."""
    assert client.post("/api/permissions", json={"pattern": "send_handoff"}).status_code == 200
    # a user profile with every tool (the built-in researcher's allowedTools leave send_handoff out)
    assert client.post("/api/profiles", json={
        "id": "relay", "name": "Relay", "description": "passes work on", "version": "1.0.0", "domain": "work",
        "tags": [], "skillMd": "---\nname: Relay\ndescription: passes work on\n---\nPass work on."}).status_code == 201
    for turn in range(6):
        target = "relay" if turn % 2 == 0 else "general"
        llm_env.enqueue_tool_call("send_handoff", {"toProfileId": target, "subject": f"Round {turn}",
                                                   "body": "Your turn."}, call_id=f"c{turn}")
        llm_env.enqueue_text(f"Handed over ({turn}).")
    first = client.post("/api/tasks", json={"title": "Start the ping-pong", "agentProfile": "general"}).json()
    client.patch(f"/api/tasks/{first['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{first['id']}/execute")

    def chain_done():
        handoffs = client.get("/api/handoffs").json()
        if len(handoffs) < 5 or any(h["status"] != "completed" for h in handoffs):
            return None
        return handoffs

    handoffs = wait_for(chain_done)
    assert sorted(h["chainDepth"] for h in handoffs) == [0, 1, 2, 3, 4]
    last = next(h for h in handoffs if h["chainDepth"] == 4)
    final = daemon.wait_for_status(last["targetTaskId"], {"completed"})
    assert final["agentProfile"] == "relay"
    refused = [m for m in llm_env.requests[-1]["messages"] if m["role"] == "tool"]
    assert "chain depth limit" in refused[-1]["content"]
    assert len(client.get("/api/handoffs").json()) == 5


def test_api_chain_is_capped(client):
    parent = None
    for depth in range(5):
        body = {**HANDOFF, "fromProfileId": "general" if depth % 2 == 0 else "researcher",
                "toProfileId": "researcher" if depth % 2 == 0 else "general", "requiresApproval": True}
        if parent:
            body["parentMessageId"] = parent
        r = client.post("/api/handoffs", json=body)
        assert r.status_code == 201 and r.json()["chainDepth"] == depth
        parent = r.json()["id"]
    r = client.post("/api/handoffs", json={**HANDOFF, "parentMessageId": parent})
    assert r.status_code == 400 and "chain depth" in r.json()["error"]


def test_a_built_in_profile_hands_off_and_a_pending_handoff_is_announced_live(tmp_path, llm_env):
    import threading

    import httpx

    from tests.conftest import Daemon
    from tests.helpers.sse import iter_events

    # No keepalive re-read for an hour: the notification can only arrive through its event.
    quiet = Daemon(tmp_path / "quiet", sse_keepalive_seconds=3600)
    try:
        client = quiet.client
        assert client.post("/api/permissions", json={"pattern": "Handoff"}).status_code == 200
        llm_env.enqueue_tool_call("send_handoff", {"toProfileId": "document-writer", "subject": "Write it up",
                                                   "body": "Turn the sources into a report.", "requiresApproval": True})
        gate = threading.Event()
        llm_env.enqueue_text("Handed off.", gate=gate)
        with httpx.stream("GET", f"{quiet.url}/api/events/stream", timeout=30) as r:
            events = iter_events(r.iter_lines())
            assert next(events).event == "ready"
            task = client.post("/api/tasks", json={"title": "Research WAL", "agentProfile": "researcher"}).json()
            client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
            assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
            seen = []
            for event in events:  # the run waits at the gate: nothing ends it before the notification
                seen.append(event)
                if event.event == "notification" and event.json()["type"] == "agent_message":
                    break
            assert not any(e.event == "task" and e.json()["status"] == "completed" for e in seen)
        gate.set()
        assert quiet.wait_for_status(task["id"], {"completed"})["status"] == "completed"
        offered = {t["function"]["name"] for t in llm_env.requests[0]["tools"]}
        assert "send_handoff" in offered and "web_search" in offered and "write_file" not in offered
        handoff = client.get("/api/handoffs").json()[0]
        assert (handoff["fromProfileId"], handoff["toProfileId"], handoff["status"]) == (
            "researcher", "document-writer", "pending")
    finally:
        gate.set()
        quiet.stop()

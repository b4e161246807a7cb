"""Learned context: proposals from a finished task's reflection arrive in the inbox; approve
(edited), reject, batch, roll back; the approved context goes into the next run's prompt; over
the size limit a summarisation is proposed. Also /api/settings/learning and /api/context/batch
status codes."""

from __future__ import annotations

import json

from tests.api.test_memory import wait_for
from tests.api.test_task_runs import queued_task


def proposals(client) -> list[dict]:
    return [n for n in client.get("/api/notifications", params={"type": "context_proposal"}).json()
            if n["response"] is None]


def run(daemon, client, llm_env, *replies: str, title: str = "Tidy the changelog") -> dict:
    for reply in replies:
        llm_env.enqueue_text(reply)
    task = queued_task(client, title=title)
    client.post(f"/api/tasks/{task['id']}/execute")
    return daemon.wait_for_status(task["id"], {"completed"})


def test_settings_learning(client):
    assert client.get("/api/settings/learning").json() == {"contextCharLimit": "8000", "enabled": False}
    for bad in ({"contextCharLimit": 1000}, {"contextCharLimit": 2500}, {"contextCharLimit": 33000},
                {"contextCharLimit": "lots"}, {}, {"enabled": "yes"}):
        assert client.post("/api/settings/learning", json=bad).status_code == 400
    r = client.post("/api/settings/learning", json={"contextCharLimit": 3000})
    assert r.status_code == 200 and r.json()["contextCharLimit"] == "3000"
    assert client.post("/api/settings/learning", json={"contextCharLimit": "4000", "enabled": True}).json() == \
        {"contextCharLimit": "4000", "enabled": True}
    assert client.get("/api/settings/learning").json() == {"contextCharLimit": "4000", "enabled": True}


def test_batch_status_codes(client):
    message = "proposalIds (string[]) and action ('approve'|'reject') are required"
    for bad in ({}, {"proposalIds": [], "action": "approve"}, {"proposalIds": ["x"], "action": "maybe"},
                {"proposalIds": "x", "action": "approve"}):
        r = client.post("/api/context/batch", json=bad)
        assert r.status_code == 400 and r.json() == {"error": message}
    r = client.post("/api/context/batch", json={"proposalIds": ["ghost"], "action": "approve"})
    assert r.status_code == 400 and "ghost" in r.json()["error"]


def test_propose_approve_reject_rollback_cycle(daemon, client, llm_env):
    client.post("/api/settings/learning", json={"enabled": True})
    lesson = {"memories": [], "context": ["Always run the linter before committing"]}
    run(daemon, client, llm_env, "Done.", json.dumps(lesson))
    [note] = wait_for(lambda: proposals(client))
    assert note["toolName"] == "LearnedContext" and "linter" in note["body"]
    pending = client.get("/api/notifications/pending-approvals").json()
    assert [p["notificationId"] for p in pending] == [note["id"]]

    r = client.patch("/api/profiles/general/context", json={
        "action": "approve", "notificationId": note["id"], "editedContent": "- Run ruff before committing"})
    assert r.json() == {"ok": True}
    assert client.patch("/api/profiles/general/context", json={
        "action": "approve", "notificationId": note["id"]}).status_code == 400  # already answered
    overview = client.get("/api/profiles/general/context").json()
    assert overview["currentSize"] == len("- Run ruff before committing") and overview["limit"] == 8000
    assert [h["changeType"] for h in overview["history"]] == ["approved", "proposal"]

    # a second lesson, rejected through the batch endpoint (by its proposal id)
    run(daemon, client, llm_env, "Done.", json.dumps({"context": ["Skip the tests when in a hurry"]}))
    [second] = wait_for(lambda: proposals(client))
    proposal_id = json.loads(second["toolInput"])["learnedContextId"]
    r = client.post("/api/context/batch", json={"proposalIds": [proposal_id], "action": "reject"})
    assert r.json() == {"success": True, "action": "reject", "count": 1}
    assert client.post("/api/context/batch", json={"proposalIds": [proposal_id], "action": "approve"}).status_code == 409

    # the operator adds one directly; the next run's prompt carries the whole approved context
    assert client.post("/api/profiles/general/context", json={"additions": "- Write dates as ISO 8601"}).json() == \
        {"ok": True}
    assert client.post("/api/profiles/general/context", json={"additions": " "}).status_code == 400
    llm_env.requests.clear()
    client.post("/api/settings/learning", json={"enabled": False})
    run(daemon, client, llm_env, "Done.")
    system = llm_env.requests[0]["messages"][0]["content"]
    assert "## Learned Context" in system and "Run ruff before committing" in system and "ISO 8601" in system
    assert "Skip the tests" not in system

    # roll back to the first approved version
    history = client.get("/api/profiles/general/context").json()["history"]
    first_approved = min(h["version"] for h in history if h["changeType"] == "approved")
    assert client.patch("/api/profiles/general/context", json={"action": "rollback",
                                                                "targetVersion": first_approved}).json() == {"ok": True}
    assert client.patch("/api/profiles/general/context", json={"action": "rollback",
                                                                "targetVersion": 999}).status_code == 400
    assert client.patch("/api/profiles/general/context", json={"action": "undo"}).status_code == 400
    llm_env.requests.clear()
    run(daemon, client, llm_env, "Done.")
    system = llm_env.requests[0]["messages"][0]["content"]
    assert "Run ruff before committing" in system and "ISO 8601" not in system


def test_batch_approves_many_and_over_limit_proposes_a_summary(daemon, client, llm_env):
    client.post("/api/settings/learning", json={"contextCharLimit": 2000, "enabled": True})
    for index in range(2):
        run(daemon, client, llm_env, "Done.", json.dumps({"context": [f"Lesson {index}: " + "x" * 480] * 3}),
            title=f"Task {index}")
        wait_for(lambda n=index: len(proposals(client)) == n + 1)
    ids = [n["id"] for n in proposals(client)]  # notification ids work too
    r = client.post("/api/context/batch", json={"proposalIds": ids, "action": "approve"})
    assert r.json() == {"success": True, "action": "approve", "count": 2}
    overview = client.get("/api/profiles/general/context").json()
    assert overview["currentSize"] > 2000 and overview["needsSummarization"] is True
    [summary] = proposals(client)
    assert summary["title"].startswith("Summarise") and len(json.loads(summary["toolInput"])["additions"]) <= 1500
    client.post("/api/context/batch", json={"proposalIds": [summary["id"]], "action": "approve"})
    overview = client.get("/api/profiles/general/context").json()
    assert overview["currentSize"] <= 1500 and overview["history"][0]["changeType"] == "summarization"

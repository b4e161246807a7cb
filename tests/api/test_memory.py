"""/api/memory: operator CRUD with every documented status code, daily decay, and memory that
a finished task's reflection proposes, merged and injected into the next run's prompt."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from tests.api.test_task_runs import queued_task
from tests.helpers.waiting import wait_for


def test_crud_and_status_codes(client):
    assert client.get("/api/memory").status_code == 400
    r = client.post("/api/memory", json={"profileId": "general", "category": "fact", "content": "The API is REST",
                                         "tags": ["api"]})
    assert r.status_code == 201 and set(r.json()) == {"id"}
    first = r.json()["id"]
    second = client.post("/api/memory", json={"profileId": "general", "category": "preference",
                                              "content": "User prefers short answers", "confidence": 0.9}).json()["id"]
    for bad in ({}, {"profileId": "general", "category": "rumour", "content": "x"},
                {"profileId": "general", "category": "fact"}, {"profileId": "general", "category": "fact",
                                                               "content": "x", "confidence": 2}):
        assert client.post("/api/memory", json=bad).status_code == 400
    listed = client.get("/api/memory", params={"profileId": "general"}).json()
    assert [m["id"] for m in listed] == [second, first]  # highest confidence first
    assert listed[1]["confidence"] == 700 and listed[1]["decayRate"] == 10 and listed[1]["accessCount"] == 0
    assert json.loads(listed[1]["tags"]) == ["api"] and listed[1]["status"] == "active"
    assert client.get("/api/memory", params={"profileId": "general", "category": "fact"}).json()[0]["id"] == first
    assert client.get("/api/memory", params={"profileId": "general", "status": "bogus"}).status_code == 400
    assert client.get("/api/memory", params={"profileId": "other"}).json() == []

    assert client.patch("/api/memory", json={"id": first, "confidence": 5000}).json() == {"ok": True}
    assert client.patch("/api/memory", json={"confidence": 3}).status_code == 400
    assert client.patch("/api/memory", json={"id": first, "status": "forgotten"}).status_code == 400
    assert client.patch("/api/memory", json={"id": "unknown", "confidence": 3}).json() == {"ok": True}
    assert client.get("/api/memory", params={"profileId": "general"}).json()[0]["confidence"] == 1000

    assert client.request("DELETE", "/api/memory", json={"id": second}).json() == {"ok": True}
    assert client.request("DELETE", "/api/memory", json={}).status_code == 400
    archived = client.get("/api/memory", params={"profileId": "general", "status": "archived"}).json()
    assert [m["id"] for m in archived] == [second]


def test_confidence_decays_once_per_day(client, daemon):
    def add(content: str) -> str:
        return client.post("/api/memory", json={"profileId": "general", "category": "fact",
                                                "content": content, "confidence": 0.5}).json()["id"]

    recent, ancient = add("Two days old"), add("Years old")
    two_days_ago = (datetime.now(UTC) - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE agent_memory SET decayed_at = ?, decay_rate = 100 WHERE id = ?", (two_days_ago, recent))
        conn.execute("UPDATE agent_memory SET decayed_at = '2020-01-01T00:00:00.000Z', "
                     "created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (ancient,))
    for _ in range(2):  # listing twice decays once
        rows = {m["id"]: m for m in client.get("/api/memory", params={"profileId": "general"}).json()}
        assert rows[recent]["confidence"] == 405 and rows[recent]["status"] == "active"  # 500 x 0.9^2
        assert rows[ancient]["status"] == "archived"  # idle > 90 days and below 200


def test_reflection_proposes_memories_merged_and_injected(daemon, client, llm_env):
    assert client.post("/api/settings/learning", json={"enabled": True}).status_code == 200
    client.post("/api/memory", json={"profileId": "general", "category": "fact",
                                     "content": "The staging server is called kestrel", "confidence": 0.6})
    llm_env.enqueue_text("Deployed.")
    llm_env.enqueue_text(json.dumps({"memories": [
        {"category": "preference", "content": "The user wants deploys announced in #ops", "confidence": 0.8,
         "tags": ["ops"]},
        {"category": "fact", "content": "the staging server is called kestrel", "confidence": 0.5},
        {"category": "gossip", "content": "ignored: not a category"}], "context": []}))
    task = queued_task(client, title="Deploy the app")
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})
    memories = wait_for(lambda: [m for m in client.get("/api/memory", params={"profileId": "general"}).json()
                                 if m["category"] == "preference"] and
                        client.get("/api/memory", params={"profileId": "general"}).json())
    assert len(memories) == 2  # the repeated fact merged into the existing one
    merged = next(m for m in memories if m["category"] == "fact")
    assert merged["confidence"] == 650 and merged["content"] == "The staging server is called kestrel"
    preference = next(m for m in memories if m["category"] == "preference")
    assert preference["sourceTaskId"] == task["id"] and preference["confidence"] == 800
    reflection = llm_env.requests[1]
    assert "Deploy the app" in reflection["messages"][1]["content"]

    llm_env.enqueue_text("Done again.")
    second = queued_task(client, title="Deploy once more")
    client.post(f"/api/tasks/{second['id']}/execute")
    daemon.wait_for_status(second["id"], {"completed"})
    system = llm_env.requests[2]["messages"][0]["content"]
    assert "## Memory" in system and "announced in #ops" in system and "kestrel" in system
    used = {m["category"]: m for m in client.get("/api/memory", params={"profileId": "general"}).json()}
    assert used["preference"]["accessCount"] == 1 and used["preference"]["lastAccessedAt"]
    assert used["fact"]["accessCount"] == 2  # in both runs' prompts


def test_reflection_failure_never_fails_the_task(daemon, client, llm_env):
    client.post("/api/settings/learning", json={"enabled": True})
    llm_env.enqueue_text("All good.")
    llm_env.enqueue_text("not json at all")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    wait_for(lambda: len(llm_env.requests) >= 2)
    assert client.get("/api/memory", params={"profileId": "general"}).json() == []


def test_learning_off_by_default_makes_no_extra_call(daemon, client, llm_env):
    assert client.get("/api/settings/learning").json() == {"contextCharLimit": "8000", "enabled": False}
    llm_env.enqueue_text("Hi.")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})
    assert len(llm_env.requests) == 1


def test_the_prompt_prefers_memories_relevant_to_the_task(daemon, client, llm_env):
    for index in range(12):
        client.post("/api/memory", json={"profileId": "general", "category": "fact",
                                         "content": f"Unrelated fact number {index} about gardening {'x' * index}",
                                         "confidence": 0.9})
    client.post("/api/memory", json={"profileId": "general", "category": "fact", "confidence": 0.5,
                                     "content": "The invoice template lives in billing/templates", "tags": ["invoice"]})
    llm_env.enqueue_text("Updated.")
    task = queued_task(client, title="Update the invoice template in billing")
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})
    system = llm_env.requests[0]["messages"][0]["content"]
    assert "billing/templates" in system
    assert system.count("Unrelated fact number") == 9  # ten memories at most

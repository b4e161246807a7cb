"""/api/tasks CRUD, the status machine, output, provenance, siblings, respond, assist."""

from __future__ import annotations

import json
import sqlite3

import pytest

from stagent.engine.tasks.runner import Runner
from stagent.store.tasks import TRANSITIONS


def create(client, **fields):
    r = client.post("/api/tasks", json={"title": "A task", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_defaults_and_get(client):
    project = client.post("/api/projects", json={"name": "Home"}).json()
    task = create(client, description="do it", projectId=project["id"])
    assert task["status"] == "planned" and task["priority"] == 2 and task["resumeCount"] == 0
    assert task["createdAt"].endswith("Z")
    got = client.get(f"/api/tasks/{task['id']}").json()
    assert got["projectName"] == "Home"
    assert "usage" not in got
    assert client.get("/api/tasks/nope").json() == {"error": "Not found"}


@pytest.mark.parametrize("body, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "x", "priority": 4}, "priority"),
    ({"title": "x", "priority": "1"}, "priority"),
    ({"title": "x", "assignedAgent": "gpt-robot"}, "assignedAgent"),
    ({"title": "x", "description": "d" * 2001}, "description"),
    ({"title": "x", "projectId": "no-such-project"}, "projectId"),
])
def test_create_validation_uses_the_flatten_shape(client, body, field):
    r = client.post("/api/tasks", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["formErrors"] == [] and list(error["fieldErrors"]) == [field]
    assert client.get("/api/tasks").json() == []


def test_list_orders_by_priority_then_newest_and_filters(client):
    low = create(client, title="low", priority=3)
    urgent = create(client, title="urgent", priority=0)
    newer = create(client, title="newer", priority=3)
    assert [t["title"] for t in client.get("/api/tasks").json()] == ["urgent", "newer", "low"]
    client.patch(f"/api/tasks/{low['id']}", json={"status": "queued"})
    assert [t["id"] for t in client.get("/api/tasks?status=queued").json()] == [low["id"]]
    project = client.post("/api/projects", json={"name": "p"}).json()
    client.patch(f"/api/tasks/{urgent['id']}", json={"projectId": project["id"]})
    assert [t["id"] for t in client.get(f"/api/tasks?projectId={project['id']}").json()] == [urgent["id"]]
    assert newer["id"] in {t["id"] for t in client.get("/api/tasks").json()}


@pytest.mark.parametrize("start", sorted(TRANSITIONS))
def test_status_machine(client, daemon, start):
    for target in TRANSITIONS:
        task = create(client)
        with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
            conn.execute("UPDATE tasks SET status = ? WHERE id = ?", (start, task["id"]))
        r = client.patch(f"/api/tasks/{task['id']}", json={"status": target})
        if target == start or target in TRANSITIONS[start]:
            assert r.status_code == 200 and r.json()["status"] == target
        else:
            assert r.status_code == 400
            assert r.json() == {"error": f"Invalid transition from {start} to {target}"}
            assert client.get(f"/api/tasks/{task['id']}").json()["status"] == start


def test_patch_fields_and_unknown_status(client):
    task = create(client)
    r = client.patch(f"/api/tasks/{task['id']}", json={"title": "New", "priority": 0, "result": "r"})
    assert r.status_code == 200 and (r.json()["title"], r.json()["priority"], r.json()["result"]) == ("New", 0, "r")
    assert client.patch(f"/api/tasks/{task['id']}", json={"status": "done"}).status_code == 400
    assert client.patch("/api/tasks/none", json={"title": "x"}).status_code == 404


def test_delete_cascades_logs_and_notifications_but_keeps_spend(client, daemon):
    task = create(client)
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) "
                     "VALUES ('l1', ?, 'a', 'stream', '{}', '2026-01-01T00:00:00.000Z')", (task["id"],))
        conn.execute("INSERT INTO usage_ledger (id, task_id, activity_type, status) VALUES ('u1', ?, 'task_run', 'completed')",
                     (task["id"],))
        conn.execute("INSERT INTO notifications (id, task_id, type, title, created_at) "
                     "VALUES ('n1', ?, 'task_completed', 't', '2026-01-01T00:00:00.000Z')", (task["id"],))
    assert client.delete(f"/api/tasks/{task['id']}").json() == {"success": True}
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        for table in ("agent_logs", "notifications"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
        # The month's spend must not drop when a task is deleted (it would dodge a budget).
        assert conn.execute("SELECT id, task_id FROM usage_ledger").fetchall() == [("u1", None)]
    assert client.delete(f"/api/tasks/{task['id']}").status_code == 404


@pytest.mark.parametrize("result, kind", [
    ('{"a": 1}', "json"), ("# Title\nbody", "markdown"), ("def f():\n    return 1", "code"),
    ("plain words", "text"), (None, "unknown"),
])
def test_output_content_type(client, result, kind):
    task = create(client)
    if result is not None:
        client.patch(f"/api/tasks/{task['id']}", json={"result": result})
    assert client.get(f"/api/tasks/{task['id']}/output").json()["contentType"] == kind
    assert client.get("/api/tasks/none/output").json() == {"error": "Task not found"}


def test_siblings_of_a_workflow_run(client, daemon):
    a, b, c = create(client, title="a"), create(client, title="b"), create(client, title="c")
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE tasks SET workflow_id = 'w1', workflow_run_number = 1 WHERE id IN (?, ?)", (a["id"], b["id"]))
        conn.execute("UPDATE tasks SET workflow_id = 'w1', workflow_run_number = 2 WHERE id = ?", (c["id"],))
    siblings = client.get(f"/api/tasks/{a['id']}/siblings").json()
    assert [s["id"] for s in siblings] == [b["id"]] and set(siblings[0]) == {"id", "title", "status", "createdAt"}
    assert client.get("/api/tasks/unknown/siblings").json() == []


def test_respond_to_a_permission_request(client, daemon):
    task = create(client)
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO notifications (id, task_id, type, title, tool_name, tool_input, created_at) "
                     "VALUES ('n1', ?, 'permission_required', 'Allow Bash?', 'Bash', '{\"command\": \"ls\"}', "
                     "'2026-01-01T00:00:00.000Z')", (task["id"],))
    url = f"/api/tasks/{task['id']}/respond"
    r = client.post(url, json={"notificationId": "n1"})
    assert r.status_code == 400
    assert r.json() == {"error": "notificationId (string) and behavior ('allow' | 'deny') are required"}
    assert client.post(url, json={"notificationId": "n1", "behavior": "allow",
                                  "updatedInput": {"evil": 1}}).status_code == 400
    assert client.post(url, json={"notificationId": "nx", "behavior": "deny"}).status_code == 404
    r = client.post(url, json={"notificationId": "n1", "behavior": "allow", "updatedInput": {"command": "ls -l"}})
    assert r.json() == {"success": True}
    assert client.post(url, json={"notificationId": "n1", "behavior": "deny"}).json() == {"error": "Already responded"}
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        response, read = conn.execute("SELECT response, read FROM notifications WHERE id = 'n1'").fetchone()
    assert json.loads(response) == {"behavior": "allow", "updatedInput": {"command": "ls -l"}} and read == 1


def insert_notification(daemon, nid: str, task_id: str, type: str = "permission_required",
                        tool: str | None = "Bash", tool_input: str | None = '{"command": "ls"}') -> None:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO notifications (id, task_id, type, title, tool_name, tool_input, created_at) "
                     "VALUES (?, ?, ?, 't', ?, ?, '2026-01-01T00:00:00.000Z')", (nid, task_id, type, tool, tool_input))


def stored_response(daemon, nid: str):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        return conn.execute("SELECT response FROM notifications WHERE id = ?", (nid,)).fetchone()[0]


def test_respond_answers_only_permission_requests(client, daemon):
    task = create(client)
    insert_notification(daemon, "done", task["id"], type="task_completed", tool=None, tool_input=None)
    r = client.post(f"/api/tasks/{task['id']}/respond",
                    json={"notificationId": "done", "behavior": "allow", "alwaysAllow": True})
    assert r.status_code == 404 and r.json() == {"error": "Notification not found"}
    assert stored_response(daemon, "done") is None
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_always_allow_saves_no_pattern_it_could_not_parse(client, daemon):
    task = create(client)
    insert_notification(daemon, "odd", task["id"], tool="odd tool name", tool_input="{}")
    r = client.post(f"/api/tasks/{task['id']}/respond",
                    json={"notificationId": "odd", "behavior": "allow", "alwaysAllow": True})
    assert r.status_code == 200
    assert json.loads(stored_response(daemon, "odd")) == {"behavior": "allow", "alwaysAllow": True}
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_respond_refuses_a_pattern_post_would_refuse(client, daemon):
    task = create(client)
    insert_notification(daemon, "n1", task["id"])
    url = f"/api/tasks/{task['id']}/respond"
    for pattern in ("Bash(" + "x" * 5013 + ")", "Bash(", "  "):
        r = client.post(url, json={"notificationId": "n1", "behavior": "allow", "alwaysAllow": True,
                                   "permissionPattern": pattern})
        assert r.status_code == 400 and r.json()["error"].startswith("Invalid permissionPattern")
    assert stored_response(daemon, "n1") is None and client.get("/api/permissions").json() == {"permissions": []}
    r = client.post(url, json={"notificationId": "n1", "behavior": "allow", "alwaysAllow": True,
                               "permissionPattern": " Bash(ls *) "})
    assert r.status_code == 200 and client.get("/api/permissions").json() == {"permissions": ["Bash(ls *)"]}


def test_provenance_collects_logs_costs_and_approvals(client, daemon, llm_env):
    llm_env.enqueue_tool_call("list_files", {})
    llm_env.enqueue_text("done")
    task = create(client)
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})
    p = client.get(f"/api/tasks/{task['id']}/provenance").json()
    assert p["taskId"] == task["id"] and p["taskStatus"] == "completed" and p["toolCallCount"] == 1
    assert {e["type"] for e in p["timeline"]} >= {"log", "cost"}
    assert p["approvalCount"] == 0 and p["completedAt"] is not None
    assert client.get("/api/tasks/none/provenance").status_code == 404


def test_assist_without_a_provider_drafts_locally(client):
    r = client.post("/api/tasks/assist", json={"title": "Deploy the site",
                                               "description": "Build it. Run the tests. Deploy to production."})
    assert r.status_code == 200
    body = r.json()
    assert body["recommendedPattern"] == "checkpoint" and body["needsCheckpoint"] is True
    assert len(body["breakdown"]) == 3 and body["complexity"] in ("simple", "moderate", "complex")
    assert client.post("/api/tasks/assist", json={}).status_code == 400


def test_assist_refuses_an_unknown_runtime(client):
    r = client.post("/api/tasks/assist", json={"title": "Plan", "assignedAgent": "gpt-robot"})
    assert r.status_code == 400 and list(r.json()["error"]["fieldErrors"]) == ["assignedAgent"]
    assert client.post("/api/tasks/assist", json={"title": "Plan", "assignedAgent": "anthropic-direct"}).status_code == 200


def test_the_runner_needs_the_shared_permissions_and_budgets():
    """A Runner with its own Permissions would never receive the answers given over HTTP."""
    with pytest.raises(TypeError):
        Runner(None, None, None, None)


def test_a_run_offers_the_same_tools_on_every_step(client, daemon, llm_env):
    llm_env.enqueue_tool_call("list_files", {})
    llm_env.enqueue_text("done")
    task = create(client)
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert len(llm_env.requests) == 2 and llm_env.requests[0]["tools"] == llm_env.requests[1]["tools"]


def test_assist_asks_the_model(client, llm_env):
    llm_env.enqueue_text('{"improvedDescription": "Better", "breakdown": ["a", "b"], '
                         '"recommendedPattern": "parallel", "complexity": "moderate", '
                         '"needsCheckpoint": false, "reasoning": "because"}')
    body = client.post("/api/tasks/assist", json={"title": "Research three vendors"}).json()
    assert body["improvedDescription"] == "Better" and body["recommendedPattern"] == "parallel"
    assert body["breakdown"] == ["a", "b"]
    assert llm_env.requests[0]["max_tokens"] == 1500
    rows = client.get("/api/usage?groupBy=model").json()["rows"]  # the call is in the ledger
    assert [(r["key"], r["inputTokens"], r["outputTokens"], r["unknownPricingEntries"]) for r in rows] == [
        ("openai/fake", 11, 7, 1)]

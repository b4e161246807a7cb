"""/api/data: seed fills every page's list; clear empties them and keeps settings, keys and
snapshots; both take a snapshot first and wait for running tasks."""

from __future__ import annotations

LISTS = ("/api/projects", "/api/tasks", "/api/workflows", "/api/schedules", "/api/notifications",
         "/api/chat/conversations", "/api/memory?profileId=researcher", "/api/events/logs")


def items(client, path):
    body = client.get(path).json()
    if isinstance(body, dict):
        body = body.get("lines", body.get("items", body.get("notifications", body)))
    return body


def test_seed_fills_every_list_and_clear_empties_them(daemon, client):
    client.post("/api/projects", json={"name": "mine"})
    client.post("/api/settings/routing", json={"preference": "cost"})
    assert client.put("/api/snapshots/settings", json={"maxCount": 7}).status_code == 200

    r = client.post("/api/data/seed")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] and body["seeded"]["projects"] == 3 and body["seeded"]["tasks"] >= 10
    assert body["seeded"]["agentLogs"] > 0 and body["seeded"]["usageLedger"] > 0
    for key in ("profiles", "documents", "views", "userTables", "userTableRows", "chatMessages"):
        assert key in body["seeded"]
    for path in LISTS:
        assert items(client, path), path
    assert "mine" not in {p["name"] for p in client.get("/api/projects").json()}  # seed replaces
    usage = client.get("/api/usage", params={"from": "2000-01-01", "groupBy": "model"}).json()
    assert usage["totals"]["entries"] > 0
    workflow = next(w for w in client.get("/api/workflows").json() if w["status"] == "completed")
    assert client.get(f"/api/workflows/{workflow['id']}/status").status_code == 200
    task = next(t for t in client.get("/api/tasks").json() if t["status"] == "completed")
    assert items(client, f"/api/events/logs?taskId={task['id']}")
    # the daemon keeps working on the seeded data: a new log line gets a later seq
    assert client.post("/api/projects", json={"name": "after seed"}).status_code == 201

    r = client.post("/api/data/clear")
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted["projects"] == 4 and deleted["tasks"] >= 10 and deleted["agentLogs"] > 0
    assert "files" in deleted and "screenshots" in deleted
    for path in LISTS:
        assert not items(client, path), path
    assert client.get("/api/settings/routing").json()["preference"] == "cost"
    assert client.get("/api/snapshots/settings").json()["maxCount"] == "7"
    labels = [s["label"] for s in client.get("/api/snapshots").json()["snapshots"]]
    assert any(lb.startswith("pre-seed-") for lb in labels) and any(lb.startswith("pre-clear-") for lb in labels)
    assert (daemon.data_dir / "api-key").is_file()
    assert client.get("/api/keys", headers={"X-API-Key": daemon.api_key}).status_code == 200

    # the pre-seed snapshot brings the user's own data back
    pre_seed = next(s for s in client.get("/api/snapshots").json()["snapshots"] if s["label"].startswith("pre-seed-"))
    assert client.post(f"/api/snapshots/{pre_seed['id']}/restore").status_code == 200
    assert {p["name"] for p in client.get("/api/projects").json()} == {"mine"}


def test_seed_and_clear_wait_for_running_tasks(daemon, client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    task = client.post("/api/tasks", json={"title": "busy"}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"running"})
    for path in ("/api/data/seed", "/api/data/clear"):
        r = client.post(path)
        assert r.status_code == 409 and r.json()["runningTasks"] == [{"id": task["id"], "title": "busy"}]
    assert client.get(f"/api/tasks/{task['id']}").status_code == 200
    client.post(f"/api/tasks/{task['id']}/cancel")

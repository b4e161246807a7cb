"""/api/projects: CRUD, task counts, default documents, cascading delete."""

from __future__ import annotations

import sqlite3


def test_create_list_get_update(client):
    r = client.post("/api/projects", json={"name": "Alpha", "description": "d", "workingDirectory": "/tmp"})
    assert r.status_code == 201
    alpha = r.json()
    assert alpha["status"] == "active" and alpha["workingDirectory"] == "/tmp"
    beta = client.post("/api/projects", json={"name": "Beta"}).json()
    client.post("/api/tasks", json={"title": "t", "projectId": alpha["id"]})
    listed = client.get("/api/projects").json()
    assert [(p["name"], p["taskCount"]) for p in listed] == [("Alpha", 1), ("Beta", 0)]
    assert client.get(f"/api/projects/{beta['id']}").json()["name"] == "Beta"
    r = client.patch(f"/api/projects/{beta['id']}", json={"status": "paused", "name": "Beta 2"})
    assert (r.json()["status"], r.json()["name"]) == ("paused", "Beta 2")
    assert client.patch(f"/api/projects/{beta['id']}", json={"status": "archived"}).status_code == 400
    assert client.get("/api/projects/none").json() == {"error": "Not found"}


def test_validation(client):
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "x", "description": "d" * 501}):
        r = client.post("/api/projects", json=body)
        assert r.status_code == 400 and "fieldErrors" in r.json()["error"]
    assert client.get("/api/projects").json() == []


def test_delete_cascades_to_tasks_logs_and_documents(client, daemon):
    project = client.post("/api/projects", json={"name": "Doomed"}).json()
    task = client.post("/api/tasks", json={"title": "t", "projectId": project["id"]}).json()
    db = daemon.data_dir / "stagent.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) "
                     "VALUES ('l1', ?, 'a', 'stream', '{}', 'x')", (task["id"],))
        conn.execute("INSERT INTO documents (id, project_id, filename, original_name, mime_type, storage_path, "
                     "created_at, updated_at) VALUES ('d1', ?, 'f', 'f', 'text/plain', 'p', 'x', 'x')", (project["id"],))
    assert client.delete(f"/api/projects/{project['id']}").json() == {"success": True}
    with sqlite3.connect(db) as conn:
        assert [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("tasks", "agent_logs", "documents")] == [0, 0, 0]
    assert client.delete(f"/api/projects/{project['id']}").status_code == 404


def test_default_documents(client, daemon):
    project = client.post("/api/projects", json={"name": "Docs"}).json()
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        for doc in ("d1", "d2"):
            conn.execute("INSERT INTO documents (id, filename, original_name, mime_type, size, storage_path, "
                         "created_at, updated_at) VALUES (?, 'f', ?, 'text/plain', 3, 'p', 'x', 'x')", (doc, doc + ".txt"))
    url = f"/api/projects/{project['id']}/documents"
    assert client.get(url).json() == []
    r = client.put(url, json={"documentIds": ["d1", "d2", "ghost"]})  # unknown ids: a 400, nothing bound
    assert (r.status_code, r.json()) == (400, {"error": "Documents not found: ghost"})
    assert client.get(url).json() == []
    r = client.put(url, json={"documentIds": ["d1", "d2", "d1"]})
    assert r.json() == {"updated": 2, "projectId": project["id"]}
    docs = client.get(url).json()
    assert [d["originalName"] for d in docs] == ["d1.txt", "d2.txt"]
    assert set(docs[0]) == {"id", "originalName", "filename", "mimeType", "size", "direction", "status", "category"}
    client.patch(f"/api/projects/{project['id']}", json={"documentIds": ["d2"]})
    assert [d["id"] for d in client.get(url).json()] == ["d2"]
    r = client.put(url, json={"documentIds": "d1"})
    assert r.status_code == 400 and r.json() == {"error": "documentIds must be an array"}
    assert client.put("/api/projects/none/documents", json={"documentIds": []}).json() == {"error": "Project not found"}
    assert client.get("/api/projects/none/documents").json() == []

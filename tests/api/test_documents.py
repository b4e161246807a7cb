"""/api/documents against the real daemon: path ingest under the allow and deny rules, the
list's filters and FTS search, PATCH (re-link, metadata, reprocess), delete with cascadeDelete,
the file route's inline rules and headers, output-document versions; every documented status."""

from __future__ import annotations

import os
import struct

import pytest

from tests.helpers.documents import png_bytes
from tests.helpers.waiting import wait_for


def wait_ready(client, document_id: str) -> dict:
    return wait_for(lambda: (d := client.get(f"/api/documents/{document_id}").json())["status"] in ("ready", "error")
                    and d)


def ingest(client, path, **extra):
    return client.post("/api/documents", json={"file_path": str(path), **extra})


def upload(client, name: str, content: bytes, mime: str = "text/plain") -> str:
    r = client.post("/api/uploads", files={"file": (name, content, mime)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_ingest_a_path(daemon, client, tmp_path):
    source = tmp_path / "quarterly report.md"
    source.write_text("# Q3\nRevenue grew by a third.")
    r = ingest(client, source)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"documentId": body["documentId"], "status": "uploaded", "processingStatus": "queued",
                    "originalName": "quarterly report.md", "mimeType": "text/markdown", "size": 29}
    document = wait_ready(client, body["documentId"])
    assert document["direction"] == "output" and document["status"] == "ready"
    assert document["extractedText"] == "# Q3\nRevenue grew by a third."
    assert document["storagePath"].startswith(str(daemon.data_dir / "uploads"))
    assert (daemon.data_dir / "uploads" / document["filename"]).read_text() == "# Q3\nRevenue grew by a third."
    assert {"taskTitle", "projectName", "workflowId", "workflowName", "workflowRunNumber"} <= set(document)

    r = ingest(client, source, direction="input", metadata={"origin": "finance"})
    assert r.status_code == 201
    assert client.get(f"/api/documents/{r.json()['documentId']}").json()["category"] == '{"origin": "finance"}'


def test_ingest_refuses_paths_outside_and_denied(daemon, client, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (home / ".config" / "app").mkdir(parents=True)
    (home / ".config" / "app" / "token").write_text("t")
    (home / "notes.txt").write_text("fine")
    monkeypatch.setenv("HOME", str(home))
    link = tmp_path / "innocent.txt"
    link.symlink_to(home / ".ssh" / "id_rsa")

    denied = [home / ".ssh" / "id_rsa", home / ".config" / "app" / "token", "~/.ssh/id_rsa", "/etc/hostname",
              "/usr/lib/os-release", link, daemon.data_dir / "stagent.db", "/proc/self/environ"]
    for path in denied:
        r = ingest(client, path)
        assert r.status_code == 403, (path, r.text)
        assert r.json() == {"error": "Access denied: path is outside allowed directories"}
    assert ingest(client, "~/notes.txt").status_code == 201  # $HOME is allowed

    assert ingest(client, tmp_path / "missing.txt").status_code == 400
    assert "not found" in ingest(client, tmp_path / "missing.txt").json()["error"].lower()
    assert ingest(client, tmp_path).status_code == 400
    unreadable = tmp_path / "unreadable.txt"
    unreadable.write_text("secret")
    unreadable.chmod(0)
    if not os.access(unreadable, os.R_OK):  # root reads anything
        r = ingest(client, unreadable)
        assert r.status_code == 400 and "Cannot read" in r.json()["error"]
    for bad in ({}, {"file_path": ""}, {"file_path": 3}, {"file_path": str(home / "notes.txt"), "direction": "up"}):
        r = client.post("/api/documents", json=bad)
        assert r.status_code == 400
        assert r.json()["error"] == "Invalid request body" and isinstance(r.json()["details"], list)
    r = client.post("/api/documents", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "Invalid request body"
    r = ingest(client, home / "notes.txt", taskId="no-such-task")
    assert r.status_code == 400 and r.json()["details"][0]["path"] == ["taskId"]
    assert len(client.get("/api/documents").json()) == 1


def test_list_filters_and_search(daemon, client):
    project = client.post("/api/projects", json={"name": "Finance"}).json()
    task = client.post("/api/tasks", json={"title": "Review", "projectId": project["id"]}).json()
    budget = upload(client, "budget-2026.txt", b"Numbers for the coming year.")
    notes = upload(client, "notes.txt", b"We discussed the BUDGET overrun and hiring.")
    other = upload(client, "travel.txt", b"Flights and hotels.")
    for document_id in (budget, notes, other):
        wait_ready(client, document_id)
    assert client.patch(f"/api/documents/{notes}", json={"taskId": task["id"]}).status_code == 200

    listed = client.get("/api/documents").json()
    assert [d["id"] for d in listed] == [other, notes, budget]  # newest first
    found = client.get("/api/documents", params={"search": "budget"}).json()
    assert [d["id"] for d in found] == [budget, notes]  # the name weighs more than the text
    assert [d["id"] for d in client.get("/api/documents", params={"search": "overrun and hir"}).json()] == [notes]
    assert [d["id"] for d in client.get("/api/documents", params={"search": "ho"}).json()] == [other]  # below a trigram
    assert client.get("/api/documents", params={"search": "nothing like it"}).json() == []
    assert client.get("/api/documents", params={"search": '"; DROP TABLE documents; --'}).json() == []

    by_task = client.get("/api/documents", params={"taskId": task["id"]}).json()
    assert [d["id"] for d in by_task] == [notes] and by_task[0]["taskTitle"] == "Review"
    assert by_task[0]["projectName"] == "Finance"
    assert [d["id"] for d in client.get("/api/documents", params={"projectId": project["id"]}).json()] == [notes]
    assert len(client.get("/api/documents", params={"status": "ready", "direction": "input"}).json()) == 3
    assert client.get("/api/documents", params={"direction": "output"}).json() == []
    assert client.get("/api/documents", params={"status": "done"}).status_code == 400
    assert client.get("/api/documents", params={"direction": "sideways"}).status_code == 400

    # the index follows deletes and re-extraction
    assert client.delete(f"/api/documents/{budget}").status_code == 204
    assert [d["id"] for d in client.get("/api/documents", params={"search": "budget"}).json()] == [notes]


def test_get_patch_reprocess(daemon, client):
    document_id = upload(client, "a.txt", b"first text")
    wait_ready(client, document_id)
    assert client.get("/api/documents/nope").status_code == 404
    assert client.get("/api/documents/nope").json() == {"error": "Document not found"}
    assert client.patch("/api/documents/nope", json={"category": "x"}).status_code == 404

    r = client.patch(f"/api/documents/{document_id}", json={"category": "contracts"})
    assert r.status_code == 200 and r.json()["category"] == "contracts" and "taskTitle" not in r.json()
    r = client.patch(f"/api/documents/{document_id}", json={"metadata": {"owner": "ana"}})
    assert r.json()["category"] == '{"category": "contracts", "owner": "ana"}'
    for bad in ({"category": "x" * 101}, {"taskId": "no-such-task"}, {"projectId": "nope"}, {"reprocess": "yes"}):
        r = client.patch(f"/api/documents/{document_id}", json=bad)
        assert r.status_code == 400 and r.json()["error"] == "Invalid request body", bad

    (daemon.data_dir / "uploads" / f"{document_id}.txt").write_text("second text")
    r = client.patch(f"/api/documents/{document_id}", json={"reprocess": True})
    assert r.status_code == 200 and r.json()["status"] in ("processing", "ready")
    assert wait_for(lambda: (d := client.get(f"/api/documents/{document_id}").json())["extractedText"] == "second text"
                    and d)["status"] == "ready"
    assert [d["id"] for d in client.get("/api/documents", params={"search": "second"}).json()] == [document_id]
    assert client.get("/api/documents", params={"search": "first text"}).json() == []


def test_delete_needs_cascade_when_linked(daemon, client):
    project = client.post("/api/projects", json={"name": "P"}).json()
    task = client.post("/api/tasks", json={"title": "Linked task"}).json()
    linked = upload(client, "linked.txt", b"x")
    bound = upload(client, "bound.txt", b"y")
    client.patch(f"/api/documents/{linked}", json={"taskId": task["id"]})
    assert client.put(f"/api/projects/{project['id']}/documents", json={"documentIds": [bound]}).status_code == 200

    r = client.delete(f"/api/documents/{linked}")
    assert r.status_code == 409 and "cascadeDelete=true" in r.json()["error"] and "Linked task" in r.json()["error"]
    assert client.delete(f"/api/documents/{bound}").status_code == 409
    assert client.delete(f"/api/documents/{linked}", params={"cascadeDelete": "true"}).status_code == 204
    assert client.delete(f"/api/documents/{bound}", params={"cascadeDelete": "true"}).status_code == 204
    assert client.delete(f"/api/documents/{bound}").status_code == 404
    assert os.listdir(daemon.data_dir / "uploads") == []
    assert client.get(f"/api/projects/{project['id']}/documents").json() in ([], {"documents": []})
    assert client.get(f"/api/tasks/{task['id']}").status_code == 200  # the task stays


def test_file_route_inline_rules_and_headers(daemon, client):
    png = upload(client, "chart.png", png_bytes(12, 7), "image/png")
    html = upload(client, 'evil"\r\nX-Injected: 1.html', b"<script>alert(1)</script>", "text/html")
    for document_id in (png, html):
        wait_ready(client, document_id)
    assert client.get(f"/api/documents/{png}").json()["extractedText"] == "Image: PNG, 12x7 pixels."

    r = client.get(f"/api/documents/{png}/file", params={"inline": "1"})
    assert r.status_code == 200 and r.content == png_bytes(12, 7) and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith('inline; filename="chart.png"')
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/api/documents/{png}/file").headers["content-disposition"].startswith("attachment")
    thumb = client.get(f"/api/documents/{png}/file", params={"thumb": "1"})
    assert thumb.headers["content-type"] == "image/png" and png_size(thumb.content) == (12, 7)  # no bigger

    r = client.get(f"/api/documents/{html}/file", params={"inline": "1"})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert "x-injected" not in r.headers and "\r" not in r.headers["content-disposition"]
    assert "sandbox" in r.headers["content-security-policy"]
    assert client.get("/api/documents/nope/file").status_code == 404
    os.unlink(daemon.data_dir / "uploads" / f"{png}.png")
    assert client.get(f"/api/documents/{png}/file").status_code == 404


def png_size(content: bytes) -> tuple[int, int]:
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", content[16:24])


def test_an_image_gets_a_thumbnail_that_goes_with_it(daemon, client):
    big = upload(client, "photo.png", png_bytes(1000, 500), "image/png")
    wait_ready(client, big)
    document = client.get(f"/api/documents/{big}").json()
    assert document["extractedText"] == "Image: PNG, 1000x500 pixels."
    thumb = client.get(f"/api/documents/{big}/file", params={"thumb": "1"})
    assert thumb.status_code == 200 and png_size(thumb.content) == (320, 160)
    assert png_size(client.get(f"/api/documents/{big}/file").content) == (1000, 500)  # the original, untouched
    assert sorted(os.listdir(daemon.data_dir / "uploads")) == sorted([f"{big}.png", f"{big}.thumb.png"])
    assert client.get(f"/api/uploads/{big}").content == png_bytes(1000, 500)
    assert client.delete(f"/api/documents/{big}").status_code == 204
    assert os.listdir(daemon.data_dir / "uploads") == []


def test_output_versions_by_name_and_project(daemon, client, tmp_path):
    project = client.post("/api/projects", json={"name": "P"}).json()
    report = tmp_path / "report.md"
    ids = []
    for text in ("v1", "v2 longer"):
        report.write_text(text)
        ids.append(ingest(client, report, projectId=project["id"]).json()["documentId"])
    loose = ingest(client, report).json()["documentId"]
    ingest(client, report, projectId=project["id"], direction="input")  # inputs are not versions

    versions = client.get(f"/api/documents/{ids[0]}/versions").json()
    assert [v["id"] for v in versions] == [ids[1], ids[0]] and [v["version"] for v in versions] == [2, 1]
    assert set(versions[0]) == {"id", "version", "size", "status", "createdAt", "workflowRunNumber"}
    assert versions[0]["size"] == 9
    assert client.get(f"/api/documents/{loose}/versions").json() == []
    assert client.get("/api/documents/nope/versions").status_code == 404


@pytest.mark.parametrize("path", ["/api/documents/x/file", "/api/documents/x/versions", "/api/documents/x"])
def test_unknown_document_is_404(client, path):
    assert client.get(path).status_code == 404


def test_store_reads_for_tools(daemon, client):
    """search_documents and get_document_text, the store calls the agent's document tools make."""
    import asyncio

    from stagent.store import documents as store

    project = client.post("/api/projects", json={"name": "P"}).json()
    text = "Alpha section. " * 20 + "The migration window is Sunday night." + " Omega." * 10
    document_id = upload(client, "runbook.txt", text.encode())
    wait_ready(client, document_id)
    other = upload(client, "other.txt", b"Sunday night plans")
    wait_ready(client, other)
    client.patch(f"/api/documents/{document_id}", json={"projectId": project["id"]})

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(10)

    db = daemon.app.state.db
    whole = run(store.get_document_text(db, document_id))
    assert whole["text"] == text and whole["totalChars"] == len(text) and (whole["start"], whole["end"]) == (0, len(text))
    part = run(store.get_document_text(db, document_id, 300, 313))
    assert part["text"] == text[300:313] and (part["start"], part["end"]) == (300, 313)
    tail = run(store.get_document_text(db, document_id, len(text) - 7))
    assert tail["text"] == text[-7:]
    assert run(store.get_document_text(db, document_id, len(text) + 5, len(text) + 50))["text"] == ""
    assert run(store.get_document_text(db, "nope")) is None

    hits = run(store.search_documents(db, "MIGRATION WINDOW"))
    assert [h["id"] for h in hits] == [document_id]
    assert "The migration window is Sunday night." in hits[0]["snippet"] and hits[0]["originalName"] == "runbook.txt"
    assert {h["id"] for h in run(store.search_documents(db, "sunday night"))} == {document_id, other}
    assert [h["id"] for h in run(store.search_documents(db, "sunday night", project_id=project["id"]))] == [document_id]
    assert len(run(store.search_documents(db, "sunday night", limit=1))) == 1
    assert run(store.search_documents(db, "  ")) == []
    assert run(store.missing_ids(db, [document_id, "nope"])) == ["nope"]

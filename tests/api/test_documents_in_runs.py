"""Documents in runs: bound documents reach the model's prompt (small ones whole, large ones
named), the read_document / search_documents / save_document tools through scripted tool
calls, workflow step outputs kept as documents, and unknown documentIds refused with a 400."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.api.test_chat import new_conversation, send, types
from tests.helpers.workflows import create as create_workflow
from tests.helpers.workflows import wait_status

NOW = "2026-01-01T00:00:00.000Z"


def add_document(daemon, doc_id: str, text: str | None, *, name: str | None = None, project_id: str | None = None,
                 status: str = "ready", mime: str = "text/plain") -> str:
    """A document row as extraction leaves it (the upload route itself is tested in test_documents)."""
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO documents (id, project_id, filename, original_name, mime_type, size, storage_path, "
                     "status, extracted_text, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (doc_id, project_id, f"{doc_id}.txt", name or f"{doc_id}.txt", mime, len(text or ""),
                      f"/tmp/{doc_id}", status, text, NOW, NOW))
    return doc_id


def run_task(daemon, client, **fields) -> dict:
    task = client.post("/api/tasks", json={"title": "Summarise", **fields})
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    client.patch(f"/api/tasks/{task_id}", json={"status": "queued"})
    assert client.post(f"/api/tasks/{task_id}/execute").status_code == 202
    return daemon.wait_for_status(task_id, {"completed", "failed"})


def system_prompt(request: dict) -> str:
    return request["messages"][0]["content"]


def tool_results(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def test_bound_documents_reach_the_prompt_small_ones_whole_large_ones_named(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Docs"}).json()
    add_document(daemon, "p1", "Project style guide: write in short sentences.", name="style.md")
    add_document(daemon, "t1", "The quarterly revenue was 42 million.", name="numbers.txt")
    big = "Long appendix line.\n" * 2_000  # 40,000 characters: past the inline limit
    add_document(daemon, "t2", big, name="appendix.txt")
    add_document(daemon, "t3", None, name="scan.pdf", status="processing", mime="application/pdf")
    assert client.patch(f"/api/projects/{project['id']}", json={"documentIds": ["p1"]}).status_code == 200
    llm_env.enqueue_text("done")
    task = run_task(daemon, client, projectId=project["id"], documentIds=["t1", "t2", "t3"])
    assert task["status"] == "completed", task["result"]
    prompt = system_prompt(llm_env.requests[0])
    assert "Documents attached to this task:" in prompt
    assert "--- numbers.txt (documentId t1) ---\nThe quarterly revenue was 42 million." in prompt
    assert "--- style.md (documentId p1) ---\nProject style guide" in prompt
    assert prompt.index("numbers.txt") < prompt.index("style.md")  # the task's own, then the project's
    assert "- appendix.txt (documentId t2): 40,000 characters" in prompt and "read_document" in prompt
    assert "Long appendix line." not in prompt
    assert "- scan.pdf (documentId t3): still being processed" in prompt
    assert llm_env.requests[0]["messages"][1]["content"] == "Summarise"  # the user's prompt is untouched


def test_the_inline_budget_names_what_does_not_fit(daemon, client, llm_env):
    ids = [add_document(daemon, f"d{i}", f"part {i} " + "x" * 9_000) for i in range(5)]  # 5 x 9,007 chars
    llm_env.enqueue_text("done")
    run_task(daemon, client, documentIds=ids)
    prompt = system_prompt(llm_env.requests[0])
    inlined = [i for i in ids if f"--- {i}.txt (documentId {i}) ---" in prompt]
    named = [i for i in ids if f"- {i}.txt (documentId {i}):" in prompt]
    assert inlined == ids[:3] and named == ids[3:]  # 32,000 characters hold three


def test_a_schedule_firing_gets_the_schedule_documents(daemon, client, llm_env):
    add_document(daemon, "s1", "Checklist for the weekly report.", name="checklist.md")
    body = {"name": "Weekly", "interval": "every day at 9am", "prompt": "Write the report"}
    assert client.post("/api/schedules", json={**body, "documentIds": ["nope"]}).json() == {
        "error": "Documents not found: nope"}
    schedule = client.post("/api/schedules", json={**body, "documentIds": ["s1"]}).json()
    assert client.get(f"/api/schedules/{schedule['id']}").json()["documentIds"] == ["s1"]
    llm_env.enqueue_text("report written")
    fired = client.post(f"/api/schedules/{schedule['id']}/execute")
    assert fired.status_code == 202, fired.text
    daemon.wait_for_status(fired.json()["taskId"], {"completed", "failed"})
    assert "--- checklist.md (documentId s1) ---\nChecklist for the weekly report." in system_prompt(
        llm_env.requests[0])
    r = client.patch(f"/api/schedules/{schedule['id']}", json={"documentIds": []})
    assert r.status_code == 200 and client.get(f"/api/schedules/{schedule['id']}").json()["documentIds"] == []


def test_read_document_by_range_and_by_page(daemon, client, llm_env):
    add_document(daemon, "r1", "".join(f"{i:04d} " for i in range(3_000)), name="ledger.txt")  # 15,000 chars
    add_document(daemon, "pdf", "[Page 1]\nIntroduction text.\n\n[Page 2]\nThe findings are here.",
                 name="report.pdf", mime="application/pdf")
    llm_env.enqueue_tool_calls([("read_document", {"documentId": "r1", "offset": 5, "length": 10}, "c1"),
                                ("read_document", {"documentId": "pdf", "page": 2}, "c2"),
                                ("read_document", {"documentId": "pdf", "page": 9}, "c3"),
                                ("read_document", {"documentId": "missing"}, "c4"),
                                ("read_document", {"documentId": "r1", "offset": 10**20}, "c5")])
    llm_env.enqueue_text("read")
    task = run_task(daemon, client, title="Read them")
    assert task["status"] == "completed", task["result"]
    ranged, page, no_page, missing, far = tool_results(llm_env.requests[1])
    assert ranged.startswith("Document: ledger.txt (documentId r1, text/plain)\nCharacters 5-15 of 15,000. "
                             "Continue with offset=15.")
    assert ranged.endswith("\n\n0001 0002 ")
    assert page.endswith("Page 2 of 2.\n\nThe findings are here.")
    assert no_page == "error: page 9 was not read from 'report.pdf': pages 1-2 were"
    assert missing == "error: no document with id 'missing'"
    assert far.startswith("error: offset") and far.endswith("is past the end of the document (15,000 characters)")


def test_search_documents_covers_the_run_project(daemon, client, llm_env):
    mine = client.post("/api/projects", json={"name": "Mine"}).json()["id"]
    other = client.post("/api/projects", json={"name": "Other"}).json()["id"]
    add_document(daemon, "m1", "Our supplier contract renews in March.", name="contract.md", project_id=mine)
    add_document(daemon, "o1", "Another supplier contract.", name="other.md", project_id=other)
    llm_env.enqueue_tool_call("search_documents", {"query": "supplier CONTRACT"})
    llm_env.enqueue_text("found")
    run_task(daemon, client, projectId=mine)
    (result,) = tool_results(llm_env.requests[1])
    found = json.loads(result)
    assert found["count"] == 1 and found["results"][0]["documentId"] == "m1"
    assert "supplier contract renews" in found["results"][0]["snippet"]


def test_save_document_keeps_versions_within_the_project(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Reports"}).json()["id"]
    llm_env.enqueue_tool_call("save_document", {"name": "notes/../summary", "content": "First draft."})
    llm_env.enqueue_tool_call("save_document", {"name": "summary.md", "content": "Second draft."})
    llm_env.enqueue_text("saved")
    task = run_task(daemon, client, projectId=project)
    first, second = (json.loads(tool_results(r)[-1]) for r in llm_env.requests[1:3])
    assert (first["name"], first["version"], second["version"]) == ("summary.md", 1, 2)
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        rows = conn.execute("SELECT id, direction, status, extracted_text, task_id, project_id, storage_path, "
                            "mime_type FROM documents WHERE original_name = 'summary.md' ORDER BY version").fetchall()
    assert [r[1:6] for r in rows] == [("output", "ready", "First draft.", task["id"], project),
                                      ("output", "ready", "Second draft.", task["id"], project)]
    for row in rows:  # a fresh <id>.md in the uploads folder, never the name the model gave
        path = daemon.data_dir / "uploads" / f"{row[0]}.md"
        assert row[6] == str(path) and path.read_text() == row[3] and row[7] == "text/markdown"
        assert path.stat().st_mode & 0o777 == 0o600
    # the new versions are searchable at once (the FTS index follows the rows)
    llm_env.enqueue_tool_call("search_documents", {"query": "Second draft"})
    llm_env.enqueue_text("ok")
    run_task(daemon, client, projectId=project)
    assert json.loads(tool_results(llm_env.requests[-1])[0])["results"][0]["version"] == 2


def test_unknown_document_ids_are_a_400_that_changes_nothing(daemon, client):
    add_document(daemon, "known", "text")
    flatten = {"error": {"formErrors": [], "fieldErrors": {"documentIds": ["Documents not found: nope"]}}}
    r = client.post("/api/tasks", json={"title": "t", "documentIds": ["known", "nope"]})
    assert (r.status_code, r.json()) == (400, flatten)
    assert client.get("/api/tasks").json() == []
    task = client.post("/api/tasks", json={"title": "t", "documentIds": ["known"]}).json()
    r = client.patch(f"/api/tasks/{task['id']}", json={"title": "changed", "documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (400, flatten)
    assert client.get(f"/api/tasks/{task['id']}").json()["title"] == "t"
    r = client.post("/api/projects", json={"name": "p", "documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (400, flatten) and client.get("/api/projects").json() == []
    project = client.post("/api/projects", json={"name": "p", "documentIds": ["known"]}).json()
    assert [d["id"] for d in client.get(f"/api/projects/{project['id']}/documents").json()] == ["known"]
    r = client.patch(f"/api/projects/{project['id']}", json={"documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (400, flatten)
    r = client.put(f"/api/projects/{project['id']}/documents", json={"documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (400, {"error": "Documents not found: nope"})
    assert [d["id"] for d in client.get(f"/api/projects/{project['id']}/documents").json()] == ["known"]
    sched = {"name": "s", "interval": "every day at 9am", "prompt": "p"}
    schedule = client.post("/api/schedules", json=sched).json()
    r = client.patch(f"/api/schedules/{schedule['id']}", json={"name": "renamed", "documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (400, {"error": "Documents not found: nope"})
    assert client.get(f"/api/schedules/{schedule['id']}").json()["name"] == "s"
    definition = {"pattern": "sequence", "steps": [{"id": "a", "prompt": "x", "documentIds": ["nope"]}]}
    r = client.post("/api/workflows", json={"name": "w", "definition": definition})
    assert (r.status_code, r.json()) == (400, {"error": "Documents not found: nope"})
    workflow = create_workflow(client, {"pattern": "sequence", "steps": [{"id": "a", "prompt": "x"}]})
    r = client.patch(f"/api/workflows/{workflow['id']}", json={"definition": definition})
    assert (r.status_code, r.json()) == (400, {"error": "Documents not found: nope"})
    r = client.post(f"/api/workflows/{workflow['id']}/documents", json={"documentIds": ["nope"]})
    assert (r.status_code, r.json()) == (404, {"error": "Documents not found: nope"})  # its documented 404


def test_workflow_step_outputs_become_documents_and_saved_ones_reach_later_steps(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Flow"}).json()["id"]
    llm_env.enqueue_tool_call("save_document", {"name": "findings.md", "content": "Three sources agree."})
    llm_env.enqueue_text("Research findings.")
    llm_env.enqueue_text("Final report.")
    workflow = create_workflow(client, {"pattern": "sequence", "steps": [
        {"id": "a", "name": "Research", "prompt": "research"}, {"id": "b", "name": "Write", "prompt": "write"}]},
        name="Brief", projectId=project)
    client.post(f"/api/workflows/{workflow['id']}/execute")
    wait_status(client, workflow["id"], "completed")
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        rows = conn.execute("SELECT id, original_name, version, extracted_text, source FROM documents "
                            "WHERE direction = 'output' AND project_id = ? ORDER BY created_at", (project,)).fetchall()
    assert [r[1:] for r in rows] == [("findings.md", 1, "Three sources agree.", "agent"),
                                     ("Brief - Research.md", 1, "Research findings.", "workflow"),
                                     ("Brief - Write.md", 1, "Final report.", "workflow")]
    second_prompt = llm_env.requests[2]["messages"][-1]["content"]
    assert f"- findings.md (documentId {rows[0][0]}), version 1, 20 characters" in second_prompt
    assert "Brief - Research.md" not in second_prompt  # its text is the previous output already
    assert second_prompt.endswith("Previous step output:\nResearch findings.\n\n---\n\nwrite")
    client.post(f"/api/workflows/{workflow['id']}/execute")  # a second run ("ok" twice): new versions
    wait_status(client, workflow["id"], "completed")
    versions = client.get(f"/api/documents/{rows[1][0]}/versions").json()
    assert [(v["version"], v["workflowRunNumber"]) for v in versions] == [(2, 2), (1, 1)]


def test_chat_saves_and_searches_documents_in_its_project_without_asking(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Chatty"}).json()["id"]
    conv = new_conversation(client, projectId=project)
    llm_env.enqueue_tool_call("save_document", {"name": "plan", "content": "Ship the beta on Friday."})
    llm_env.enqueue_tool_call("search_documents", {"query": "beta on friday"})
    llm_env.enqueue_text("Saved and found.")
    events = send(daemon, conv["id"], "Keep the plan", approve=None)  # no permission request comes
    assert "permission_request" not in types(events) and types(events)[-1] == "done"
    saved = json.loads(tool_results(llm_env.requests[1])[-1])
    assert saved["name"] == "plan.md" and saved["version"] == 1
    found = json.loads(tool_results(llm_env.requests[2])[-1])
    assert [r["documentId"] for r in found["results"]] == [saved["documentId"]]
    doc = client.get(f"/api/documents/{saved['documentId']}").json()
    assert (doc["projectId"], doc["taskId"], doc["direction"], doc["status"]) == (project, None, "output", "ready")
    assert {"entityType": "document", "entityId": saved["documentId"], "label": "plan.md",
            "href": f"/documents/{saved['documentId']}"} in events[-1].json()["quickAccess"]


@pytest.mark.parametrize("tool", ["read_document", "search_documents", "save_document"])
def test_the_document_tools_are_offered_to_tasks_and_chat_and_need_no_approval(tool):
    from stagent.engine.agent import toolbox  # noqa: F401  (registers every family)
    from stagent.engine.agent.tools import CHAT_TOOLS, TASK_TOOLS
    from stagent.engine.governance.permission_patterns import SAFE_TOOLS
    assert tool in TASK_TOOLS and tool in CHAT_TOOLS and tool in SAFE_TOOLS



def test_a_finished_tasks_output_is_kept_as_a_document_on_request(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Reports"}).json()
    planned = client.post("/api/tasks", json={"title": "Later", "projectId": project["id"]}).json()
    assert client.post(f"/api/tasks/{planned['id']}/output/document").status_code == 409
    assert client.post("/api/tasks/nope/output/document").status_code == 404

    llm_env.enqueue_text("# Weekly report\n\nAll green.")
    task = run_task(daemon, client, title="Weekly/report", projectId=project["id"])
    assert task["status"] == "completed", task["result"]
    first = client.post(f"/api/tasks/{task['id']}/output/document")
    assert first.status_code == 201, first.text
    saved = first.json()
    assert (saved["originalName"], saved["direction"], saved["status"], saved["version"]) == \
        ("Weekly-report.md", "output", "ready", 1)
    assert client.get(f"/api/documents/{saved['id']}").json()["extractedText"] == "# Weekly report\n\nAll green."
    assert client.get(f"/api/documents/{saved['id']}/file").content == b"# Weekly report\n\nAll green."
    second = client.post(f"/api/tasks/{task['id']}/output/document").json()
    assert second["version"] == 2
    listed = client.get("/api/documents", params={"taskId": task["id"], "direction": "output"}).json()
    assert {d["id"] for d in listed} == {saved["id"], second["id"]}

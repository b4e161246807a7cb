"""/api/workflows over real HTTP: every endpoint and documented status code, the catalog's
shapes and plain `{error}` bodies, document bindings, retry, from-assist and the SSE stream."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import httpx
import pytest

from stagent.errors import Invalid
from stagent.store import notifications as notification_store
from stagent.store import workflows as workflow_store
from tests.helpers.sse import iter_events
from tests.helpers.workflows import create, on_loop, prompts, start, status, wait_status, wait_step, wait_until

SEQUENCE = {"pattern": "sequence", "steps": [{"id": "a", "name": "A", "prompt": "do a"},
                                            {"id": "b", "name": "B", "prompt": "do b"}]}


def error(r, code: int) -> str:
    assert r.status_code == code, r.text
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    return body["error"]


# ---- create / list / get ---------------------------------------------------------------------

def test_create_a_draft_and_list_it(client):
    r = client.post("/api/workflows", json={"name": "  Research  ", "definition": SEQUENCE})
    assert r.status_code == 201
    workflow = r.json()
    assert workflow["status"] == "draft" and workflow["runNumber"] == 0 and workflow["name"] == "Research"
    assert json.loads(workflow["definition"]) == SEQUENCE  # the stored JSON text, as the catalog returns it
    assert set(workflow) >= {"id", "projectId", "name", "definition", "status", "runNumber", "createdAt", "updatedAt"}
    second = create(client, SEQUENCE, name="Second")
    listed = client.get("/api/workflows").json()
    assert [w["id"] for w in listed] == [second["id"], workflow["id"]]  # newest first
    assert listed[1]["taskCount"] == 0 and listed[1]["outputDocCount"] == 0
    assert client.get(f"/api/workflows/{workflow['id']}").json() == workflow
    assert error(client.get("/api/workflows/nope"), 404) == "Workflow not found"


def test_a_definition_may_be_sent_as_its_json_text(client):
    workflow = create(client, json.dumps(SEQUENCE))
    assert json.loads(workflow["definition"]) == SEQUENCE


def test_create_needs_a_name_and_a_definition(client):
    assert error(client.post("/api/workflows", json={"definition": SEQUENCE}), 400) == "Name is required"
    assert error(client.post("/api/workflows", json={"name": "  ", "definition": SEQUENCE}), 400) == "Name is required"
    assert error(client.post("/api/workflows", json={"name": "x"}), 400) == \
        "Definition must include pattern and at least one step"
    assert error(client.post("/api/workflows", json={"name": "x", "definition": {"pattern": "sequence",
                                                                                 "steps": []}}), 400) == \
        "Definition must include pattern and at least one step"
    assert error(client.post("/api/workflows", json={"name": "x", "definition": SEQUENCE, "projectId": "nope"}),
                 400) == "Project nope not found"
    assert client.post("/api/workflows", content=b"[1]").status_code == 400
    assert client.get("/api/workflows").json() == []


def step(i: str, **extra) -> dict:
    return {"id": i, "name": i, "prompt": f"do {i}", **extra}


BRANCHES = [step("b1"), step("b2")]
JOIN = step("join", dependsOn=["b1", "b2"])

INVALID = [
    ({"pattern": "waterfall", "steps": [step("a")]}, "Invalid definition.pattern"),
    ({"pattern": "loop", "steps": [step("a")]}, "Loop pattern requires loopConfig with maxIterations >= 1"),
    ({"pattern": "loop", "loopConfig": {"maxIterations": 0}, "steps": [step("a")]}, "Invalid definition.loopConfig"),
    ({"pattern": "parallel", "steps": [step("b1"), step("join", dependsOn=["b1"])]},
     "Parallel pattern requires at least 2 branch steps"),
    ({"pattern": "parallel", "steps": [*(step(f"b{i}") for i in range(6)), step("j", dependsOn=[f"b{i}" for i in range(6)])]},
     "Parallel pattern supports at most 5 branch steps"),
    ({"pattern": "parallel", "steps": BRANCHES}, "Parallel pattern requires branch steps and exactly one synthesis step"),
    ({"pattern": "parallel", "steps": [*BRANCHES, step("join", dependsOn=["b1"])]},
     "Parallel synthesis step must depend on every branch exactly once"),
    ({"pattern": "parallel", "steps": [step("b1", requiresApproval=True), step("b2"), JOIN]},
     "Parallel steps cannot require approval"),
    ({"pattern": "swarm", "steps": [step("m"), step("w"), step("r")]},
     "Swarm pattern requires a mayor step, 2-5 worker steps, and a refinery step"),
    ({"pattern": "swarm", "steps": [step("m"), *(step(f"w{i}") for i in range(6)), step("r")]},
     "Swarm pattern supports at most 5 worker steps"),
    ({"pattern": "swarm", "steps": [step("m"), step("w1", requiresApproval=True), step("w2"), step("r")]},
     "Swarm steps cannot require approval"),
    ({"pattern": "swarm", "steps": [step("m"), step("w1", dependsOn=["m"]), step("w2"), step("r")]},
     "Swarm steps use fixed mayor/worker/refinery ordering and cannot declare dependencies"),
    ({"pattern": "swarm", "swarmConfig": {"workerConcurrencyLimit": 3}, "steps": [step("m"), step("w1"), step("w2"), step("r")]},
     "Swarm worker concurrency limit must be between 1 and 2"),
    ({"pattern": "sequence", "steps": [step("a"), step("a")]}, "Step id 'a' is used twice"),
    ({"pattern": "sequence", "steps": [{"id": "a", "name": "A"}]}, "Step 'a' has no prompt"),
    ({"pattern": "sequence", "steps": [step("a", assignedAgent="gpt-robot")]}, "Invalid definition.steps.0.assignedAgent"),
    ({"pattern": "sequence", "steps": [step("a", dependsOn=["b"]), step("b", dependsOn=["a"])]},
     "Steps depend on each other in a cycle"),
    ({"pattern": "sequence", "steps": [step("a", dependsOn=["zz"])]}, "Step 'a' depends on unknown step 'zz'"),
    ({"pattern": "planner-executor", "steps": [step("a")]}, "Planner-Executor requires at least 2 steps (planner + executor)"),
    ({"pattern": "sequence", "onInterrupt": "shrug", "steps": [step("a")]}, "Invalid definition.onInterrupt"),
]


@pytest.mark.parametrize(("definition", "message"), INVALID)
def test_definition_rules_are_a_plain_400(client, definition, message):
    got = error(client.post("/api/workflows", json={"name": "x", "definition": definition}), 400)
    assert got.startswith(message), got
    assert client.get("/api/workflows").json() == []


def test_steps_and_triggers_are_capped(daemon, client):
    chain = [step(f"s{i}", dependsOn=[f"s{i + 1}"]) for i in range(6000)] + [step("s6000")]
    assert error(client.post("/api/workflows", json={"name": "x", "definition": {"pattern": "sequence",
                                                                                 "steps": chain}}), 400) == \
        "A workflow has at most 100 steps"
    assert error(client.post("/api/workflows", json={"name": "x", "definition": json.dumps(
        {"pattern": "sequence", "steps": chain[-101:]})}), 400) == "A workflow has at most 100 steps"
    hooks = [{"id": f"h{i}", "type": "webhook-trigger"} for i in range(21)]
    assert error(client.post("/api/workflows", json={"name": "x", "definition": {
        "pattern": "sequence", "steps": [step("a")], "triggers": hooks}}), 400) == "A workflow has at most 20 triggers"
    assert client.get("/api/workflows").json() == []
    backwards = chain[-100:]  # the longest chain allowed, listed last step first
    workflow = create(client, {"pattern": "sequence", "steps": backwards})
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"definition": {
        "pattern": "sequence", "steps": chain[-101:]}}), 400) == "A workflow has at most 100 steps"
    # A definition built elsewhere (Stan's tools store drafts unchecked) is refused when it runs.
    stan_draft = on_loop(daemon, workflow_store.create_workflow(
        daemon.app.state.db, name="Huge", definition={"pattern": "sequence", "steps": chain[-101:]}))
    assert error(client.post(f"/api/workflows/{stan_draft['id']}/execute"), 400) == "A workflow has at most 100 steps"
    assert status(client, stan_draft["id"])["status"] == "draft"


def test_a_cycle_is_refused_naming_its_steps(client):
    definition = {"pattern": "sequence", "steps": [step("a"), step("b", dependsOn=["c"]), step("c", dependsOn=["b"])]}
    assert error(client.post("/api/workflows", json={"name": "x", "definition": definition}), 400) == \
        "Steps depend on each other in a cycle: 'b', 'c'"


MALFORMED = [("POST", "/api/workflows"), ("PATCH", "/api/workflows/{id}"), ("POST", "/api/workflows/from-assist"),
             ("POST", "/api/workflows/{id}/documents"), ("DELETE", "/api/workflows/{id}/documents"),
             ("POST", "/api/workflows/{id}/respond")]


@pytest.mark.parametrize(("method", "path"), MALFORMED)
def test_malformed_json_is_a_plain_400(client, method, path):
    workflow = create(client, SEQUENCE)
    r = client.request(method, path.format(id=workflow["id"]), content=b'{"name": ',
                       headers={"content-type": "application/json"})
    assert error(r, 400).startswith("Malformed JSON body")
    assert client.get(f"/api/workflows/{workflow['id']}").json() == workflow


def test_a_definition_text_with_nan_or_infinity_is_refused(daemon, client):
    for constant in ("NaN", "Infinity", "-Infinity"):
        text = '{"pattern": "sequence", "steps": [{"id": "a", "prompt": "x", "config": {"n": CONSTANT}}]}'.replace(
            "CONSTANT", constant)
        got = error(client.post("/api/workflows", json={"name": "x", "definition": text}), 400)
        assert got == f"definition is not valid JSON text: {constant} is not valid JSON"
    assert client.get("/api/workflows").json() == []
    with pytest.raises(Invalid, match="NaN or Infinity"):  # what a Stan tool or a blueprint could hand in
        on_loop(daemon, workflow_store.create_workflow(daemon.app.state.db, name="x", definition={
            "pattern": "sequence", "steps": [{"id": "a", "prompt": "x", "config": {"n": float("nan")}}]}))
    assert client.get("/api/workflows").json() == []


# ---- PATCH -------------------------------------------------------------------------------------

def test_patch_edits_name_and_definition_of_a_draft(client):
    workflow = create(client, SEQUENCE)
    r = client.patch(f"/api/workflows/{workflow['id']}", json={"name": "Renamed"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    loop = {"pattern": "loop", "loopConfig": {"maxIterations": 2}, "steps": [step("a")]}
    r = client.patch(f"/api/workflows/{workflow['id']}", json={"definition": loop})
    assert r.status_code == 200 and json.loads(r.json()["definition"]) == loop
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"name": " "}), 400) == "Name is required"
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"definition": {"pattern": "loop",
                                                                                         "steps": [step("a")]}}), 400)
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={}), 400) == \
        "status, name, or definition is required"
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"status": "active"}), 400) == \
        "Use POST /api/workflows/[id]/execute to resume a workflow"
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"status": "completed"}), 400) == \
        "Invalid status transition: completed"
    assert error(client.patch(f"/api/workflows/{workflow['id']}", json={"status": "paused"}), 409) == \
        "Can only pause an active workflow"
    assert error(client.patch("/api/workflows/nope", json={"name": "x"}), 404) == "Workflow not found"
    assert json.loads(client.get(f"/api/workflows/{workflow['id']}").json()["definition"]) == loop


def test_a_running_workflow_cannot_be_edited_or_deleted_and_a_finished_one_goes_back_to_draft(client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    workflow_id = start(client, SEQUENCE)
    wait_step(client, workflow_id, "a", "running")
    assert error(client.patch(f"/api/workflows/{workflow_id}", json={"name": "x"}), 409) == \
        "Cannot edit active or paused workflows"
    assert error(client.delete(f"/api/workflows/{workflow_id}"), 409) == \
        "Cannot delete an active workflow — pause or wait for completion"
    assert error(client.post(f"/api/workflows/{workflow_id}/execute"), 409) == "Workflow is already running"
    client.post(f"/api/workflows/{workflow_id}/cancel")
    failed = status(client, workflow_id)
    assert failed["status"] == "failed" and failed["workflowState"]["status"] == "failed"
    r = client.patch(f"/api/workflows/{workflow_id}", json={"name": "Fixed"})
    assert r.status_code == 200 and r.json()["status"] == "draft"
    edited = status(client, workflow_id)
    assert edited["workflowState"] is None and edited["steps"][0]["state"] == {"stepId": "a", "status": "pending"}
    assert edited["runHistory"][0]["runNumber"] == 1  # the history stays


# ---- execute / status / delete -------------------------------------------------------------------

def test_execute_runs_and_a_second_execute_is_a_new_run(client, llm_env):
    assert error(client.post("/api/workflows/nope/execute"), 404) == "Workflow not found"
    workflow_id = create(client, SEQUENCE)["id"]
    r = client.post(f"/api/workflows/{workflow_id}/execute")
    assert r.status_code == 202
    assert r.json() == {"status": "started", "workflowId": workflow_id, "runNumber": 1}
    first = wait_status(client, workflow_id, "completed")
    assert first["workflowState"]["currentStepIndex"] == 1 and first["workflowState"]["status"] == "completed"
    assert first["steps"][0]["state"]["status"] == "completed" and first["steps"][0]["state"]["taskId"]
    assert client.post(f"/api/workflows/{workflow_id}/execute").json()["runNumber"] == 2
    second = wait_status(client, workflow_id, "completed")
    assert [(h["runNumber"], h["taskCount"], h["completedCount"], h["failedCount"]) for h in second["runHistory"]] == [
        (2, 2, 2, 0), (1, 2, 2, 0)]
    assert second["runNumber"] == 2 and second["pattern"] == "sequence"
    assert set(second) >= {"id", "name", "status", "projectId", "definition", "swarmConfig", "stepDocuments",
                           "parentDocuments", "workflowState", "steps"}
    listed = client.get("/api/workflows").json()[0]
    assert listed["taskCount"] == 4
    assert error(client.get("/api/workflows/nope/status"), 404) == "Workflow not found"


def test_a_busy_workflow_does_not_hold_up_another_ones_start(daemon, client, llm_env):
    engine = daemon.app.state.workflows
    busy, other = create(client, SEQUENCE, name="Busy")["id"], create(client, SEQUENCE, name="Other")["id"]
    held, release = threading.Event(), asyncio.Event()

    async def hold_busy():  # a lifecycle change of the busy workflow, in progress
        async with engine._locks.hold(busy):
            held.set()
            await release.wait()

    holder = asyncio.run_coroutine_threadsafe(hold_busy(), daemon.loop)
    assert held.wait(10)
    try:
        r = client.post(f"/api/workflows/{other}/execute", timeout=10)
        assert r.status_code == 202 and r.json()["runNumber"] == 1
        assert wait_status(client, other, "completed")["runNumber"] == 1
        assert status(client, busy)["status"] == "draft"
    finally:
        daemon.loop.call_soon_threadsafe(release.set)
        holder.result(10)


def test_loop_status_has_loop_config_and_state(client, llm_env):
    llm_env.enqueue_text("LOOP_COMPLETE")
    definition = {"pattern": "loop", "loopConfig": {"maxIterations": 4}, "steps": [step("a")]}
    workflow_id = start(client, definition)
    done = wait_status(client, workflow_id, "completed")
    assert done["loopConfig"] == {"maxIterations": 4} and done["steps"] == definition["steps"]
    assert done["loopState"]["status"] == "completed" and done["loopState"]["stopReason"] == "agent_signaled"
    assert done["loopState"]["iterations"][0]["iteration"] == 1


def test_delete_removes_the_workflow_and_its_step_tasks(client, llm_env):
    workflow_id = start(client, SEQUENCE)
    wait_status(client, workflow_id, "completed")
    assert len([t for t in client.get("/api/tasks").json() if t["workflowId"] == workflow_id]) == 2
    r = client.delete(f"/api/workflows/{workflow_id}")
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert client.get(f"/api/workflows/{workflow_id}").status_code == 404
    assert [t for t in client.get("/api/tasks").json() if t["workflowId"] == workflow_id] == []
    assert error(client.delete(f"/api/workflows/{workflow_id}"), 404) == "Workflow not found"


# ---- retry ---------------------------------------------------------------------------------------

def test_retry_a_failed_step_continues_the_run(client, llm_env):
    llm_env.enqueue_text("out-a")
    llm_env.enqueue_error(400, "bad luck")
    workflow_id = start(client, SEQUENCE)
    assert wait_status(client, workflow_id, "failed")["steps"][1]["state"]["status"] == "failed"
    llm_env.enqueue_text("out-b")
    r = client.post(f"/api/workflows/{workflow_id}/steps/b/retry")
    assert r.status_code == 202 and r.json() == {"status": "retry_started", "workflowId": workflow_id, "stepId": "b"}
    done = wait_status(client, workflow_id, "completed")
    assert [s["state"]["result"] for s in done["steps"]] == ["out-a", "out-b"]
    assert done["runNumber"] == 1 and prompts(llm_env).count("[Workflow] A\n\ndo a") == 1
    llm_env.enqueue_error(400, "bad luck again")
    client.post(f"/api/workflows/{workflow_id}/execute")
    wait_status(client, workflow_id, "failed")
    client.patch(f"/api/workflows/{workflow_id}", json={"name": "Edited"})  # back to draft, run state dropped
    refused = client.post(f"/api/workflows/{workflow_id}/steps/a/retry")
    assert error(refused, 409).startswith("Workflow has no execution state: start a run with POST")
    assert status(client, workflow_id)["status"] == "draft"


def test_a_retry_that_cannot_happen_is_refused_and_explained(client, llm_env):
    workflow_id = start(client, SEQUENCE)
    wait_status(client, workflow_id, "completed")
    before = status(client, workflow_id)
    r = client.post(f"/api/workflows/{workflow_id}/steps/a/retry")
    assert error(r, 409) == "Step a is not in failed state: only a failed step can be retried"
    assert error(client.post(f"/api/workflows/{workflow_id}/steps/zz/retry"), 404) == (
        "Step zz not found: this workflow's steps are a, b")
    after = status(client, workflow_id)
    assert after["status"] == "completed" and after["runNumber"] == before["runNumber"]
    assert [s["state"] for s in after["steps"]] == [s["state"] for s in before["steps"]]
    assert error(client.post("/api/workflows/nope/steps/a/retry"), 404) == "Workflow not found"


# ---- documents -----------------------------------------------------------------------------------

def add_document(daemon, doc_id: str, text: str | None = None) -> None:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO documents (id, filename, original_name, mime_type, size, storage_path, "
                     "extracted_text, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     (doc_id, f"{doc_id}.txt", f"{doc_id}.txt", "text/plain", 5, f"/tmp/{doc_id}", text,
                      "uploaded" if text is None else "ready", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"))


def test_document_bindings(daemon, client, llm_env):
    workflow_id = create(client, SEQUENCE)["id"]
    url = f"/api/workflows/{workflow_id}/documents"
    assert client.get(url).json() == []
    assert error(client.post(url, json={"documentIds": []}), 400) == "documentIds must be a non-empty array"
    assert error(client.post(url, json={"documentIds": ["d1", "d2"]}), 404) == "Documents not found: d1, d2"
    assert error(client.post("/api/workflows/nope/documents", json={"documentIds": ["d1"]}), 404) == "Workflow not found"
    add_document(daemon, "d1", "The quarterly numbers.")
    add_document(daemon, "d2")
    assert error(client.post(url, json={"documentIds": ["d1"], "stepId": "zz"}), 400) == "Unknown step 'zz'"
    r = client.post(url, json={"documentIds": ["d1", "d1"]})
    assert r.status_code == 201 and r.json() == {"attached": 1, "workflowId": workflow_id, "stepId": None}
    assert client.post(url, json={"documentIds": ["d2"], "stepId": "b"}).status_code == 201
    bindings = client.get(url).json()
    assert [(b["documentId"], b["stepId"]) for b in bindings] == [("d1", None), ("d2", "b")]
    assert bindings[0]["document"]["originalName"] == "d1.txt" and bindings[0]["bindingId"]
    client.post(f"/api/workflows/{workflow_id}/execute")
    wait_status(client, workflow_id, "completed")
    sent = prompts(llm_env)
    assert sent[0].startswith("[Workflow] A\n\nWorkflow documents:\n\n--- d1.txt (documentId d1) ---\n"
                              "The quarterly numbers.\n\n")
    assert sent[0].endswith("\n\ndo a") and "read_document" in sent[0]
    assert "- d2.txt (documentId d2): still being processed" in sent[1] and "d2.txt" not in sent[0]
    assert client.request("DELETE", url, json={"documentIds": ["d2"], "stepId": "b"}).json() == {"ok": True}
    assert [b["documentId"] for b in client.get(url).json()] == ["d1"]
    assert client.delete(url).json() == {"ok": True}
    assert client.get(url).json() == []
    assert error(client.get("/api/workflows/nope/documents"), 404) == "Workflow not found"
    assert error(client.delete("/api/workflows/nope/documents"), 404) == "Workflow not found"
    assert error(client.request("DELETE", "/api/workflows/nope/documents", json={"documentIds": ["d1"]}),
                 404) == "Workflow not found"


def test_a_step_gets_the_documents_it_lists_in_document_ids(daemon, client, llm_env):
    add_document(daemon, "d1", "The quarterly numbers.")
    add_document(daemon, "d2", "The team plan.")
    add_document(daemon, "gone", "Deleted after the workflow was saved.")
    workflow_id = create(client, {"pattern": "sequence", "steps": [
        step("a"), step("b", documentIds=["d2", "gone"]), step("c", documentIds=["d1"])]})["id"]
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("DELETE FROM documents WHERE id = 'gone'")
    assert client.post(f"/api/workflows/{workflow_id}/documents", json={"documentIds": ["d1"]}).status_code == 201
    client.post(f"/api/workflows/{workflow_id}/execute")
    wait_status(client, workflow_id, "completed")
    sent = prompts(llm_env)
    d1, d2 = ("--- d1.txt (documentId d1) ---\nThe quarterly numbers.", "--- d2.txt (documentId d2) ---\nThe team plan.")
    assert sent[0].startswith(f"[Workflow] a\n\nWorkflow documents:\n\n{d1}\n\n") and sent[0].endswith("\n\ndo a")
    assert sent[1].startswith(f"[Workflow] b\n\nWorkflow documents:\n\n{d1}\n\n{d2}\n\n")
    assert sent[1].endswith("\n\nPrevious step output:\nok\n\n---\n\ndo b") and "gone" not in sent[1]
    assert sent[2].count("--- d1.txt (documentId d1) ---") == 1  # bound and listed: once


# ---- from-assist ---------------------------------------------------------------------------------

def test_from_assist_creates_the_workflow_and_a_task_per_step(client, llm_env):
    r = client.post("/api/workflows/from-assist", json={"name": "Assisted", "definition": SEQUENCE, "priority": 0})
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "created" and body["parentTaskId"] is None and len(body["taskIds"]) == 2
    assert body["workflow"]["status"] == "draft"
    tasks = [client.get(f"/api/tasks/{t}").json() for t in body["taskIds"]]
    assert [(t["title"], t["status"], t["priority"], t["workflowId"]) for t in tasks] == [
        ("A", "planned", 0, body["workflow"]["id"]), ("B", "planned", 0, body["workflow"]["id"])]
    started = client.post("/api/workflows/from-assist", json={"name": "Now", "definition": SEQUENCE,
                                                             "executeImmediately": True}).json()
    assert started["status"] == "started" and started["workflow"]["status"] == "active"
    assert wait_status(client, started["workflow"]["id"], "completed")["run"]["trigger"] == "assist"
    assert error(client.post("/api/workflows/from-assist", json={"definition": SEQUENCE}), 400) == "Name is required"
    assert error(client.post("/api/workflows/from-assist", json={"name": "x", "definition": SEQUENCE,
                                                                 "priority": 9}), 400).startswith("Invalid priority")


# ---- the progress stream -------------------------------------------------------------------------

def read_until(response_or_events, last_event: str) -> list:
    events = response_or_events
    if isinstance(events, httpx.Response):
        events = iter_events(events.iter_lines())
    out = []
    for event in events:
        out.append(event)
        if event.json()["event"] == last_event:
            return out
    raise AssertionError("the stream ended early")


def test_progress_stream_with_ids_and_resume(daemon, client, llm_env):
    llm_env.enqueue_text("alpha output")
    llm_env.enqueue_text("beta output")
    workflow_id = create(client, SEQUENCE)["id"]
    url = f"{daemon.url}/api/workflows/{workflow_id}/stream"
    with httpx.stream("GET", url, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        client.post(f"/api/workflows/{workflow_id}/execute")
        events = read_until(r, "run_finished")
    data = [e.json() for e in events]
    kinds = [d["event"] for d in data]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and data[-1]["status"] == "completed"
    assert [d["stepId"] for d in data if d["event"] == "step_started"] == ["a", "b"]
    finished = [d for d in data if d["event"] == "step_finished"]
    assert [(d["stepId"], d["status"], d["result"]) for d in finished] == [
        ("a", "completed", "alpha output"), ("b", "completed", "beta output")]
    outputs = [d for d in data if d["event"] == "step_output" and d["stepId"] == "a"]
    assert "".join(json.loads(json.dumps(d["payload"]))["text"] for d in outputs if d["logEvent"] == "stream") \
        == "alpha output"
    assert kinds.index("step_output") < kinds.index("step_finished")
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids))
    # Resume after the first step finished: exactly the events after it.
    cut = kinds.index("step_finished")
    with httpx.stream("GET", url, headers={"Last-Event-ID": events[cut].id}, timeout=30) as r:
        resumed = read_until(r, "run_finished")
    assert [e.id for e in resumed] == [e.id for e in events[cut + 1:]]
    # Without Last-Event-ID a stream replays the latest run.
    with httpx.stream("GET", url, timeout=30) as r:
        assert [e.id for e in read_until(r, "run_finished")] == [e.id for e in events]
    assert error(client.get(f"/api/workflows/{workflow_id}/stream", headers={"Last-Event-ID": "x"}), 400)
    assert error(client.get("/api/workflows/nope/stream"), 404) == "Workflow not found"


def test_a_step_that_cannot_run_fails_its_task_with_why(client):
    workflow_id = start(client, SEQUENCE)  # no provider is configured
    done = wait_status(client, workflow_id, "failed")
    error_text = done["steps"][0]["state"]["error"]
    task = client.get(f"/api/tasks/{done['steps'][0]['state']['taskId']}").json()
    assert (task["status"], task["result"]) == ("failed", error_text) and error_text


def test_respond_to_a_request_that_is_not_a_workflow_checkpoint_is_404(daemon, client):
    workflow_id = create(client, SEQUENCE)["id"]
    db = daemon.app.state.db
    odd = [on_loop(daemon, notification_store.create(db, type="permission_required", title="t", tool_name=name,
                                                      tool_input=value))["id"]
           for name, value in (("WorkflowCheckpoint", [workflow_id]), ("WorkflowCheckpoint", "text"),
                               ("Bash", {"command": "ls"}))]
    broken = on_loop(daemon, notification_store.create(db, type="permission_required", title="t",
                                                       tool_name="WorkflowCheckpoint"))["id"]
    on_loop(daemon, db.execute("UPDATE notifications SET tool_input = '{not json' WHERE id = ?", (broken,)))
    for notification_id in (*odd, broken):
        r = client.post(f"/api/workflows/{workflow_id}/respond", json={"notificationId": notification_id,
                                                                       "behavior": "allow"})
        assert error(r, 404) == "Checkpoint request not found"


def test_the_stream_shows_a_checkpoint_waiting(daemon, client, llm_env):
    definition = {"pattern": "checkpoint", "steps": [step("a"), step("b", requiresApproval=True)]}
    workflow_id = create(client, definition)["id"]
    with httpx.stream("GET", f"{daemon.url}/api/workflows/{workflow_id}/stream", timeout=30) as r:
        client.post(f"/api/workflows/{workflow_id}/execute")
        events = iter_events(r.iter_lines())
        waiting = read_until(events, "step_waiting")[-1].json()
        assert waiting["stepId"] == "b" and waiting["notificationId"] and waiting["expiresAt"]
        client.post(f"/api/workflows/{workflow_id}/respond", json={"notificationId": waiting["notificationId"],
                                                                   "behavior": "deny", "message": "Not today"})
        finished = read_until(events, "run_finished")
    assert finished[-2].json()["error"] == "Approval denied: Not today"
    assert finished[-1].json()["status"] == "failed"
    wait_until(lambda: status(client, workflow_id)["status"] == "failed")


def test_a_steps_budget_becomes_its_tasks_budget(client, llm_env):
    bad = {"pattern": "sequence", "steps": [{"id": "a", "name": "A", "prompt": "a", "budgetUsd": "lots"}]}
    r = client.post("/api/workflows", json={"name": "Costly", "definition": bad})
    assert r.status_code == 400 and "budgetUsd" in r.json()["error"]
    definition = {"pattern": "sequence", "steps": [{"id": "a", "name": "A", "prompt": "a", "budgetUsd": 0.5},
                                                   {"id": "b", "name": "B", "prompt": "b"}]}
    workflow_id = start(client, definition)
    done = wait_status(client, workflow_id, "completed", "failed")
    budgets = [client.get(f"/api/tasks/{s['state']['taskId']}").json()["maxBudgetUsd"] for s in done["steps"]]
    assert budgets == [0.5, None]  # None: a workflow step's default, $5

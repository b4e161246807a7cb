"""Workflow runs beyond the patterns: human checkpoints through the governance approvals, a
workflow built by Stan, cancel, and restarts (graceful and kill -9) in the middle of a run."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
import time

import httpx
import pytest

from stagent.engine.stan import tools as stan_tools
from stagent.store import workflows as workflow_store
from tests.conftest import Daemon
from tests.helpers.processes import daemon_process
from tests.helpers.servers import free_port
from tests.helpers.workflows import (
    create,
    on_loop,
    prompts,
    start,
    status,
    step_state,
    wait_status,
    wait_step,
)


def checkpoint_flow(**extra) -> dict:
    return {"pattern": "checkpoint", **extra, "steps": [
        {"id": "draft", "name": "Draft", "prompt": "Write a draft."},
        {"id": "publish", "name": "Publish", "prompt": "Publish it.", "requiresApproval": True}]}


def respond(client, workflow_id: str, notification_id: str, **body):
    return client.post(f"/api/workflows/{workflow_id}/respond", json={"notificationId": notification_id, **body})


def test_checkpoint_approved_runs_the_step(client, llm_env):
    llm_env.enqueue_text("the draft")
    llm_env.enqueue_text("published")
    workflow_id = start(client, checkpoint_flow())
    waiting = wait_step(client, workflow_id, "publish", "waiting_approval")
    pending = client.get("/api/notifications/pending-approvals").json()
    item = next(p for p in pending if p["notificationId"] == waiting["notificationId"])
    assert item["toolName"] == "WorkflowCheckpoint" and item["taskId"] is None
    assert item["workflowId"] == workflow_id and item["deepLink"] == f"/workflows/{workflow_id}"
    assert item["title"] == "Workflow checkpoint: Publish" and item["body"] == "Previous step output:\nthe draft"
    assert (item["workflowName"], item["compactSummary"]) == ("Flow", "Approve before step: Publish")
    assert len(llm_env.requests) == 1  # nothing runs while the checkpoint waits
    assert respond(client, workflow_id, waiting["notificationId"], behavior="allow").json() == {"success": True}
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "completed"
    assert prompts(llm_env)[1] == "[Workflow] Publish\n\nPrevious step output:\nthe draft\n\n---\n\nPublish it."
    again = respond(client, workflow_id, waiting["notificationId"], behavior="allow")
    assert again.status_code == 409 and again.json() == {"error": "Already responded"}


def test_checkpoint_denied_fails_the_step_and_the_workflow(client, llm_env):
    llm_env.enqueue_text("the draft")
    workflow_id = start(client, checkpoint_flow())
    waiting = wait_step(client, workflow_id, "publish", "waiting_approval")
    assert respond(client, workflow_id, waiting["notificationId"], behavior="deny").status_code == 200
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "failed"
    assert done["steps"][1]["state"]["error"] == "Approval denied by user"
    assert len(llm_env.requests) == 1


def test_checkpoint_with_an_edited_prompt_runs_the_step_with_it(client, llm_env):
    llm_env.enqueue_text("the draft")
    llm_env.enqueue_text("done")
    workflow_id = start(client, checkpoint_flow())
    waiting = wait_step(client, workflow_id, "publish", "waiting_approval")
    r = respond(client, workflow_id, waiting["notificationId"], behavior="allow",
                updatedInput={"prompt": "Publish it, but only to the staging site."})
    assert r.status_code == 200, r.text
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    assert prompts(llm_env)[1] == ("[Workflow] Publish\n\nPrevious step output:\nthe draft\n\n---\n\n"
                                   "Publish it, but only to the staging site.")


def test_checkpoint_times_out_at_its_configured_deadline(client, llm_env):
    llm_env.enqueue_text("the draft")
    workflow_id = start(client, checkpoint_flow(checkpointTimeoutSeconds=0.5))
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "failed"
    assert done["steps"][1]["state"]["error"] == "Checkpoint timed out after 0.5 s without an answer"
    notification = client.get("/api/notifications", params={"type": "permission_required"}).json()[0]
    assert notification["toolName"] == "WorkflowCheckpoint" and '"deny"' in notification["response"]
    assert client.get("/api/notifications/pending-approvals").json() == []


def test_the_checkpoint_answer_is_scoped_to_its_workflow(client, llm_env):
    llm_env.enqueue_text("the draft")
    workflow_id = start(client, checkpoint_flow())
    other = start(client, checkpoint_flow())
    waiting = wait_step(client, workflow_id, "publish", "waiting_approval")
    assert respond(client, other, waiting["notificationId"], behavior="allow").status_code == 404
    assert respond(client, workflow_id, "nope", behavior="allow").json() == {"error": "Checkpoint request not found"}
    assert respond(client, workflow_id, waiting["notificationId"], behavior="maybe").status_code == 400
    assert respond(client, "nope", waiting["notificationId"], behavior="allow").status_code == 404
    assert step_state(client, workflow_id, "publish")["status"] == "waiting_approval"


def test_a_workflow_built_by_stan_runs(daemon, client, llm_env):
    """Stan's nodes: agent steps with config.prompt, an approval node, a trigger node, and a
    connection that puts a later-added step first."""
    definition = workflow_store.empty_definition()
    stan_tools.add_node(definition, {"type": "webhook-trigger", "name": "Incoming"})
    write = stan_tools.add_node(definition, {"type": "agent", "name": "Write"})
    stan_tools.configure(definition, {"nodeId": write["id"], "config": {"prompt": "Write the summary."}})
    review = stan_tools.add_node(definition, {"type": "approval", "name": "Review"})
    research = stan_tools.add_node(definition, {"type": "agent", "name": "Research", "prompt": "Research it."})
    stan_tools.connect(definition, research["id"], write["id"])
    stan_tools.connect(definition, write["id"], review["id"])
    workflow = on_loop(daemon, workflow_store.create_workflow(daemon.app.state.db, name="Stan flow",
                                                              definition=definition))
    llm_env.enqueue_text("findings")
    llm_env.enqueue_text("summary")
    assert client.post(f"/api/workflows/{workflow['id']}/execute").status_code == 202
    waiting = wait_step(client, workflow["id"], review["id"], "waiting_approval")
    assert prompts(llm_env) == ["[Workflow] Research\n\nResearch it.",
                                "[Workflow] Write\n\nPrevious step output:\nfindings\n\n---\n\nWrite the summary."]
    assert respond(client, workflow["id"], waiting["notificationId"], behavior="allow").status_code == 200
    done = wait_status(client, workflow["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert step_state(client, workflow["id"], review["id"])["result"] == "summary"  # the approval passes it on
    assert len(llm_env.requests) == 2


def test_a_stan_draft_without_steps_cannot_run(daemon, client):
    workflow = on_loop(daemon, workflow_store.create_workflow(daemon.app.state.db, name="Empty"))
    r = client.post(f"/api/workflows/{workflow['id']}/execute")
    assert r.status_code == 400 and r.json() == {"error": "Definition must include pattern and at least one step"}
    assert status(client, workflow["id"])["status"] == "draft"


def test_cancel_stops_every_running_step(client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    join = {"id": "join", "name": "Join", "prompt": "Combine.", "dependsOn": ["x", "y"]}
    workflow_id = start(client, {"pattern": "parallel", "steps": [
        {"id": "x", "name": "X", "prompt": "x"}, {"id": "y", "name": "Y", "prompt": "y"}, join]})
    wait_step(client, workflow_id, "x", "running")
    wait_step(client, workflow_id, "y", "running")
    r = client.post(f"/api/workflows/{workflow_id}/cancel")
    assert r.status_code == 200
    assert r.json() == {"id": workflow_id, "status": "failed", "runNumber": 1, "runStatus": "cancelled"}
    done = status(client, workflow_id)
    assert done["status"] == "failed" and done["run"]["status"] == "cancelled"
    assert [s["state"]["status"] for s in done["steps"]] == ["failed", "failed", "failed"]
    tasks = [client.get(f"/api/tasks/{s['state']['taskId']}").json() for s in done["steps"][:2]]
    assert [t["status"] for t in tasks] == ["cancelled", "cancelled"]
    again = client.post(f"/api/workflows/{workflow_id}/cancel")
    assert again.status_code == 409 and again.json() == {"error": "Workflow is not running"}
    assert client.post("/api/workflows/nope/cancel").status_code == 404


# ---- cancel racing a step's launch --------------------------------------------------------------

def cancel_while_the_launch_commits(daemon, workflow_id: str) -> dict:
    """Start the run, and cancel it while its driver waits for its first step's launch (the
    step task, or the checkpoint request, and its progress line) to commit in the log bus. The
    commit is held back by an earlier log-bus job that blocks the writer until released."""
    engine, logbus = daemon.app.state.workflows, daemon.app.state.logbus
    writer_free = threading.Event()

    async def until(check, what: str) -> None:
        deadline = time.monotonic() + 20
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def race() -> dict:
        await engine.start(workflow_id)
        driver = engine._drivers[workflow_id]
        appended = logbus._appended
        # Queued before the driver's launch can be: the driver reads the database first.
        blocker = asyncio.ensure_future(logbus.transact(lambda conn, emit: writer_free.wait(30)))
        try:
            await until(lambda: logbus._appended >= appended + 2, "the driver to queue its step")
            cancelled = asyncio.ensure_future(engine.cancel(workflow_id))
            await until(driver.done, "cancel to stop the driver")
        finally:
            writer_free.set()
        await blocker
        return await cancelled

    return on_loop(daemon, race())


def test_cancel_racing_a_step_launch_cancels_the_step_task(daemon, client, llm_env):
    workflow_id = create(client, SEQUENCE)["id"]
    assert cancel_while_the_launch_commits(daemon, workflow_id)["runStatus"] == "cancelled"
    step = step_state(client, workflow_id, "a")
    assert step["status"] == "failed" and step["error"] == "Cancelled"
    task = client.get(f"/api/tasks/{step['taskId']}").json()
    assert task["status"] == "cancelled"  # not left `running` with nothing running it
    assert status(client, workflow_id)["status"] == "failed"


def test_cancel_racing_a_checkpoint_closes_its_request(daemon, client, llm_env):
    workflow_id = create(client, {"pattern": "checkpoint", "steps": [
        {"id": "publish", "name": "Publish", "prompt": "Publish it.", "requiresApproval": True}]})["id"]
    cancel_while_the_launch_commits(daemon, workflow_id)
    step = step_state(client, workflow_id, "publish")
    assert step["status"] == "failed" and step["notificationId"]
    assert client.get("/api/notifications/pending-approvals").json() == []  # nobody would wait on it
    closed = next(n for n in client.get("/api/notifications").json() if n["id"] == step["notificationId"])
    assert json.loads(closed["response"]) == {"behavior": "deny", "message": "The workflow was cancelled"}
    assert llm_env.requests == []


# ---- trigger input before the first agent step ----------------------------------------------------

def test_trigger_input_goes_through_a_checkpoint_to_the_first_agent_step(daemon, client, llm_env):
    """Stan's webhook → approval → agent: the approval shows the input, the agent gets it."""
    workflow_id = create(client, {"pattern": "sequence", "steps": [
        {"id": "review", "name": "Review", "type": "approval"},
        {"id": "act", "name": "Act", "prompt": "Handle the ticket."},
        {"id": "report", "name": "Report", "prompt": "Report."}]})["id"]
    llm_env.enqueue_text("handled")
    on_loop(daemon, daemon.app.state.workflows.start(workflow_id, trigger="webhook", input_text="ticket #42"))
    waiting = wait_step(client, workflow_id, "review", "waiting_approval")
    [request] = client.get("/api/notifications/pending-approvals").json()
    assert request["notificationId"] == waiting["notificationId"] and request["body"] == "Trigger input:\nticket #42"
    assert respond(client, workflow_id, waiting["notificationId"], behavior="allow").status_code == 200
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    assert prompts(llm_env) == ["[Workflow] Act\n\nTrigger input:\nticket #42\n\n---\n\nHandle the ticket.",
                                "[Workflow] Report\n\nPrevious step output:\nhandled\n\n---\n\nReport."]


def test_planner_executor_behind_a_checkpoint_plans_with_the_trigger_input(daemon, client, llm_env):
    workflow_id = create(client, {"pattern": "planner-executor", "steps": [
        {"id": "gate", "name": "Gate", "type": "approval"},
        {"id": "plan", "name": "Plan", "prompt": "Plan it."},
        {"id": "do", "name": "Do", "prompt": "Do it."}]})["id"]
    llm_env.enqueue_text("THE PLAN")
    on_loop(daemon, daemon.app.state.workflows.start(workflow_id, trigger="webhook", input_text="order 7"))
    waiting = wait_step(client, workflow_id, "gate", "waiting_approval")
    assert respond(client, workflow_id, waiting["notificationId"], behavior="allow").status_code == 200
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    assert prompts(llm_env) == ["[Workflow] Plan\n\nTrigger input:\norder 7\n\n---\n\nPlan it.",
                                "[Workflow] Do\n\nPlan from planner:\nTHE PLAN\n\n---\n\nDo it."]


# ---- restarts ----------------------------------------------------------------------------------

SEQUENCE = {"pattern": "sequence", "steps": [
    {"id": "a", "name": "A", "prompt": "do a"}, {"id": "b", "name": "B", "prompt": "do b"},
    {"id": "c", "name": "C", "prompt": "do c"}]}


def test_a_graceful_restart_resumes_the_sequence_without_rerunning_finished_steps(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir)
    llm_env.enqueue_text("out-a")
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    workflow_id = start(daemon.client, SEQUENCE)
    wait_step(daemon.client, workflow_id, "b", "running")
    daemon.stop()
    llm_env.script.clear()
    llm_env.enqueue_text("out-b")
    llm_env.enqueue_text("out-c")
    daemon = Daemon(data_dir)
    try:
        done = wait_status(daemon.client, workflow_id, "completed", "failed")
        assert done["status"] == "completed" and done["runNumber"] == 1
        sent = prompts(llm_env)
        assert sent.count("[Workflow] A\n\ndo a") == 1  # finished before the restart: not run again
        assert sent.count("[Workflow] B\n\nPrevious step output:\nout-a\n\n---\n\ndo b") == 2  # cut off: retried
        assert sent[-1] == "[Workflow] C\n\nPrevious step output:\nout-b\n\n---\n\ndo c"
        tasks = [t for t in daemon.client.get("/api/tasks").json() if t["workflowId"] == workflow_id]
        assert sorted((t["title"], t["status"], t["result"]) for t in tasks) == [
            ("[Workflow] A", "completed", "out-a"), ("[Workflow] B", "completed", "out-b"),
            ("[Workflow] B", "failed", "interrupted"), ("[Workflow] C", "completed", "out-c")]
    finally:
        daemon.stop()


def test_on_interrupt_fail_marks_the_cut_off_step_failed(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir)
    llm_env.enqueue_text("out-a")
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    workflow_id = start(daemon.client, {**SEQUENCE, "onInterrupt": "fail"})
    wait_step(daemon.client, workflow_id, "b", "running")
    daemon.stop()
    llm_env.script.clear()
    daemon = Daemon(data_dir)
    try:
        done = wait_status(daemon.client, workflow_id, "completed", "failed")
        assert done["status"] == "failed"
        assert [s["state"]["status"] for s in done["steps"]] == ["completed", "failed", "pending"]
        assert done["steps"][1]["state"]["error"] == "interrupted: the daemon stopped during this step"
        assert len(llm_env.requests) == 2  # a and the cut-off b; nothing after the restart
    finally:
        daemon.stop()


def test_a_checkpoint_waits_again_after_a_restart(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir)
    llm_env.enqueue_text("the draft")
    workflow_id = start(daemon.client, checkpoint_flow())
    waiting = wait_step(daemon.client, workflow_id, "publish", "waiting_approval")
    daemon.stop()
    llm_env.enqueue_text("published")
    daemon = Daemon(data_dir)
    try:
        assert step_state(daemon.client, workflow_id, "publish")["notificationId"] == waiting["notificationId"]
        assert respond(daemon.client, workflow_id, waiting["notificationId"], behavior="allow").status_code == 200
        assert wait_status(daemon.client, workflow_id, "completed", "failed")["status"] == "completed"
        assert prompts(llm_env).count("[Workflow] Draft\n\nWrite a draft.") == 1
    finally:
        daemon.stop()


@pytest.mark.serial
def test_kill_9_in_the_middle_of_a_sequence(tmp_path, llm_env):
    """A real `stagent serve` killed with SIGKILL while step B runs: after the restart A is not run
    again, B is retried, C runs."""
    data_dir, port = tmp_path / "data", free_port()
    llm_env.enqueue_text("out-a")
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=5000)
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, llm_env) as proc:
        api = httpx.Client(base_url=base, timeout=30)
        workflow_id = start(api, SEQUENCE)
        wait_step(api, workflow_id, "b", "running")
        # B's request must have reached the provider: a kill before it would make B's prompt once
        deadline = time.monotonic() + 30
        while len(llm_env.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(llm_env.requests) == 2
        api.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    llm_env.script.clear()
    llm_env.enqueue_text("out-b")
    llm_env.enqueue_text("out-c")
    daemon = Daemon(data_dir)
    try:
        done = wait_status(daemon.client, workflow_id, "completed", "failed")
        assert done["status"] == "completed"
        sent = prompts(llm_env)
        assert sent.count("[Workflow] A\n\ndo a") == 1
        assert sent.count("[Workflow] B\n\nPrevious step output:\nout-a\n\n---\n\ndo b") == 2
        assert [s["state"]["result"] for s in done["steps"]] == ["out-a", "out-b", "out-c"]
    finally:
        daemon.stop()


def test_a_paused_workflow_with_a_running_step_can_be_deleted(client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    workflow_id = start(client, SEQUENCE)
    task_id = wait_step(client, workflow_id, "a", "running")["taskId"]
    assert client.patch(f"/api/workflows/{workflow_id}", json={"status": "paused"}).status_code == 200
    r = client.delete(f"/api/workflows/{workflow_id}")
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert client.get(f"/api/tasks/{task_id}").status_code == 404
    assert client.get(f"/api/workflows/{workflow_id}/status").status_code == 404


def test_retrying_a_failed_branch_reruns_it_and_then_the_synthesis(client, llm_env):
    llm_env.enqueue_text("first done")
    llm_env.enqueue_error(400, "broke")
    join = {"id": "join", "name": "Join", "prompt": "Combine.", "dependsOn": ["x", "y"]}
    definition = {"pattern": "parallel", "steps": [
        {"id": "x", "name": "X", "prompt": "x"}, {"id": "y", "name": "Y", "prompt": "y"}, join]}
    workflow_id = start(client, definition)
    failed = wait_status(client, workflow_id, "failed")
    assert failed["steps"][2]["state"]["status"] == "failed"
    broken = next(s for s in failed["steps"][:2] if s["state"]["status"] == "failed")  # whichever got the error
    fine = next(s for s in failed["steps"][:2] if s["state"]["status"] == "completed")
    llm_env.script.clear()
    llm_env.enqueue_text("second done")
    llm_env.enqueue_text("combined")
    assert client.post(f"/api/workflows/{workflow_id}/steps/{broken['id']}/retry").status_code == 202
    done = {s["id"]: s["state"] for s in wait_status(client, workflow_id, "completed", "failed")["steps"]}
    assert (done[fine["id"]]["result"], done[broken["id"]]["result"], done["join"]["result"]) == (
        "first done", "second done", "combined")
    assert prompts(llm_env).count(f"[Workflow] {fine['name']}\n\n{fine['prompt']}") == 1  # not run again


def test_at_start_a_checkpoint_of_a_workflow_no_longer_running_is_closed(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir)
    llm_env.enqueue_text("the draft")
    workflow_id = start(daemon.client, checkpoint_flow())
    waiting = wait_step(daemon.client, workflow_id, "publish", "waiting_approval")
    daemon.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:  # e.g. an older stagent ended it meanwhile
        conn.execute("UPDATE workflows SET status = 'failed' WHERE id = ?", (workflow_id,))
    daemon = Daemon(data_dir)
    try:
        assert daemon.client.get("/api/notifications/pending-approvals").json() == []
        closed = next(n for n in daemon.client.get("/api/notifications").json() if n["id"] == waiting["notificationId"])
        assert json.loads(closed["response"]) == {"behavior": "deny", "message": "The workflow is no longer running"}
    finally:
        daemon.stop()


def test_deleting_a_running_step_task_fails_the_step_instead_of_hanging(client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    workflow_id = start(client, SEQUENCE)
    task_id = wait_step(client, workflow_id, "a", "running")["taskId"]
    assert client.delete(f"/api/tasks/{task_id}").status_code == 200
    done = wait_status(client, workflow_id, "failed")
    assert done["steps"][0]["state"]["status"] == "failed"
    assert [s["state"]["status"] for s in done["steps"][1:]] == ["pending", "pending"]

"""The six workflow patterns on a real daemon, each step a real task run through litellm against
the scripted fake provider: what each step was told, concurrency limits, loop stops, swarm."""

from __future__ import annotations

import threading

import pytest

from tests.helpers.workflows import (
    CountingProvider,
    on_loop,
    prompts,
    start,
    status,
    wait_status,
    wait_until,
)


@pytest.fixture(scope="module")
def counting():
    provider = CountingProvider().start()
    yield provider
    provider.server.stop()


@pytest.fixture
def held_env(counting, monkeypatch):
    """The provider for concurrency tests: every request is counted while it is served, and
    held replies stay in flight until the test releases them."""
    counting.reset()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    monkeypatch.setenv("OPENAI_API_BASE", counting.base_url)
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/fake")
    yield counting
    counting.reset()


def release(gates: list[threading.Event]) -> None:
    for gate in gates:
        gate.set()


def wait_in_flight(provider: CountingProvider, in_flight: int, requests: int) -> None:
    """Until exactly `requests` requests arrived and `in_flight` of them are held."""
    wait_until(lambda: provider.in_flight == in_flight and len(provider.requests) >= requests,
               what=f"{in_flight} requests in flight")
    assert len(provider.requests) == requests  # no further step started while the slots were full


def steps(*ids: str, **extra) -> list[dict]:
    return [{"id": i, "name": i.upper(), "prompt": f"do {i}", **extra} for i in ids]


def test_sequence_passes_each_output_to_the_next_step_and_the_trigger_input_to_the_first(daemon, client, llm_env):
    for text in ("out-a", "out-b", "out-c"):
        llm_env.enqueue_text(text)
    workflow = client.post("/api/workflows", json={"name": "Chain", "definition": {
        "pattern": "sequence", "steps": steps("a", "b", "c")}}).json()
    started = on_loop(daemon, daemon.app.state.workflows.start(workflow["id"], trigger="webhook",
                                                                 input_text="ticket #42"))
    assert started == {"status": "started", "workflowId": workflow["id"], "runNumber": 1}
    done = wait_status(client, workflow["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert prompts(llm_env) == [
        "[Workflow] A\n\nTrigger input:\nticket #42\n\n---\n\ndo a",
        "[Workflow] B\n\nPrevious step output:\nout-a\n\n---\n\ndo b",
        "[Workflow] C\n\nPrevious step output:\nout-b\n\n---\n\ndo c",
    ]
    assert [s["state"]["result"] for s in done["steps"]] == ["out-a", "out-b", "out-c"]
    assert done["run"]["trigger"] == "webhook"
    tasks = [t for t in client.get("/api/tasks").json() if t["workflowId"] == workflow["id"]]
    assert {t["title"] for t in tasks} == {"[Workflow] A", "[Workflow] B", "[Workflow] C"}
    assert {(t["priority"], t["sourceType"], t["workflowRunNumber"], t["status"]) for t in tasks} == {
        (1, "workflow", 1, "completed")}


def test_planner_executor_prepends_the_plan_to_every_later_step(client, llm_env):
    for text in ("THE PLAN", "did one", "did two"):
        llm_env.enqueue_text(text)
    workflow_id = start(client, {"pattern": "planner-executor", "steps": steps("plan", "one", "two")})
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    sent = prompts(llm_env)
    assert sent[0] == "[Workflow] PLAN\n\ndo plan"
    assert sent[1] == "[Workflow] ONE\n\nPlan from planner:\nTHE PLAN\n\n---\n\ndo one"
    assert sent[2] == "[Workflow] TWO\n\nPlan from planner:\nTHE PLAN\n\n---\n\ndo two"  # the plan, not "did one"


def test_a_failed_step_fails_the_sequence_and_nothing_after_it_runs(client, llm_env):
    llm_env.enqueue_text("fine")
    llm_env.enqueue_error(400, "the model refused")
    workflow_id = start(client, {"pattern": "sequence", "steps": steps("a", "b", "c")})
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "failed"
    assert [s["state"]["status"] for s in done["steps"]] == ["completed", "failed", "pending"]
    assert "the model refused" in done["steps"][1]["state"]["error"]
    assert done["run"]["error"].startswith('Step "B" failed:')
    assert len(llm_env.requests) == 2


def test_parallel_runs_at_most_three_branches_at_once_then_one_synthesis(client, held_env):
    gates = held_env.enqueue_held("branch output", 5)
    held_env.enqueue_text("the synthesis")
    branches = steps("b1", "b2", "b3", "b4", "b5")
    join = {"id": "join", "name": "Join", "prompt": "Combine them.", "dependsOn": [b["id"] for b in branches]}
    workflow_id = start(client, {"pattern": "parallel", "steps": [*branches, join]})
    try:
        wait_in_flight(held_env, 3, 3)
        waiting = [s["state"]["status"] for s in status(client, workflow_id)["steps"][:5]]
        assert sorted(waiting) == ["pending", "pending", "running", "running", "running"]
        gates[0].set()  # one slot frees: exactly one more branch starts
        wait_in_flight(held_env, 3, 4)
        gates[1].set()
        wait_in_flight(held_env, 3, 5)
    finally:
        release(gates)
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "completed", done
    assert held_env.max_in_flight == 3  # the limit was reached and never passed
    sent = prompts(held_env)
    assert sorted(sent[:5]) == [f"[Workflow] B{i}\n\ndo b{i}" for i in range(1, 6)]  # no branch sees another
    sections = "\n\n---\n\n".join(f"Branch {i} - B{i}:\nbranch output" for i in range(1, 6))
    assert sent[5] == ("[Workflow] Join\n\nYou are synthesizing the completed results of parallel research "
                       f"branches.\n\nParallel branch outputs:\n{sections}\n\n---\n\nCombine them.")
    assert done["steps"][-1]["state"]["result"] == "the synthesis"


def test_a_failed_branch_blocks_the_synthesis(client, llm_env):
    llm_env.enqueue_text("ok one")
    llm_env.enqueue_error(400, "branch broke")
    join = {"id": "join", "name": "Join", "prompt": "Combine.", "dependsOn": ["x", "y"]}
    workflow_id = start(client, {"pattern": "parallel", "steps": [*steps("x", "y"), join]})
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "failed"
    join_state = done["steps"][-1]["state"]
    assert join_state["status"] == "failed" and join_state["error"].startswith("Blocked by failed branches: ")
    assert "branch broke" in join_state["error"]
    assert len(llm_env.requests) == 2  # the synthesis never ran


def test_swarm_mayor_then_two_workers_at_a_time_then_the_refinery(client, held_env):
    held_env.enqueue_text("Assignments: split by region")
    gates = held_env.enqueue_held("worker findings", 3)
    held_env.enqueue_text("merged report")
    definition = {"pattern": "swarm", "steps": [
        {"id": "mayor", "name": "Mayor", "prompt": "Plan the work."},
        {"id": "w1", "name": "North", "prompt": "Cover the north."},
        {"id": "w2", "name": "South", "prompt": "Cover the south."},
        {"id": "w3", "name": "West", "prompt": "Cover the west."},
        {"id": "refinery", "name": "Refinery", "prompt": "Merge everything."}]}
    workflow_id = start(client, definition)
    try:
        wait_in_flight(held_env, 2, 3)  # the mayor, then two workers held (workerConcurrencyLimit 2)
        gates[0].set()
        wait_in_flight(held_env, 2, 4)
    finally:
        release(gates)
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "completed", done
    assert held_env.max_in_flight == 2
    sent = prompts(held_env)
    assert sent[0] == "[Workflow] Mayor\n\nPlan the work."
    assert ("[Workflow] South\n\nYou are one worker in a governed multi-agent swarm.\n\nMayor:\n"
            "Assignments: split by region\n\nSouth assignment:\nCover the south.\n\nComplete only your "
            "assigned slice. Return concrete findings the refinery can merge.") in sent[1:4]
    assert sent[4].startswith("[Workflow] Refinery\n\nYou are the refinery for a governed multi-agent swarm."
                              "\n\nMayor:\nAssignments: split by region\n\nWorker outputs:\nWorker 1 - North:")
    assert "Worker 3 - West:\nworker findings\n\n---\n\nMerge everything." in sent[4]


def test_swarm_worker_limit_from_the_definition(client, held_env):
    held_env.enqueue_text("plan")
    gates = held_env.enqueue_held("w", 3)
    definition = {"pattern": "swarm", "swarmConfig": {"workerConcurrencyLimit": 3},
                  "steps": steps("mayor", "w1", "w2", "w3", "refinery")}
    workflow_id = start(client, definition)
    try:
        wait_in_flight(held_env, 3, 4)  # all three workers at once
    finally:
        release(gates)
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    assert held_env.max_in_flight == 3


def loop_definition(**config) -> dict:
    return {"pattern": "loop", "loopConfig": {"maxIterations": 3, **config},
            "steps": [{"id": "draft", "name": "Draft", "prompt": "Improve the draft."}]}


def test_loop_stops_at_the_iteration_cap_and_each_iteration_sees_the_previous(client, llm_env):
    for text in ("v1", "v2", "v3", "never asked"):
        llm_env.enqueue_text(text)
    workflow_id = start(client, loop_definition())
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "completed"
    assert done["loopState"]["stopReason"] == "max_iterations"
    assert [i["result"] for i in done["loopState"]["iterations"]] == ["v1", "v2", "v3"]
    assert done["loopState"]["currentIteration"] == 3
    sent = prompts(llm_env)
    assert len(sent) == 3
    assert sent[0] == ('[Workflow] Loop Iteration 1\n\nIteration 1 of 3.\n---\n\nImprove the draft.\n'
                       'When you are fully satisfied with the result, include "LOOP_COMPLETE" in your response.')
    assert sent[2].startswith("[Workflow] Loop Iteration 3\n\nIteration 3 of 3.\nPrevious iteration output:\nv2\n---")


def test_loop_stops_when_the_model_signals_completion(client, llm_env):
    llm_env.enqueue_text("first try")
    llm_env.enqueue_text("All good now. loop_complete")
    workflow_id = start(client, loop_definition(maxIterations=5))
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["loopState"]["stopReason"] == "agent_signaled"
    assert len(done["loopState"]["iterations"]) == 2 and len(llm_env.requests) == 2


def test_loop_custom_completion_signal(client, llm_env):
    llm_env.enqueue_text("LOOP_COMPLETE is not my signal")
    llm_env.enqueue_text("SHIP IT")
    workflow_id = start(client, loop_definition(completionSignals=["ship it"]))
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["loopState"]["stopReason"] == "agent_signaled"
    assert len(done["loopState"]["iterations"]) == 2


def test_loop_stops_when_its_time_budget_is_spent(client, llm_env):
    llm_env.enqueue_text("slow iteration", delay=1.5)
    workflow_id = start(client, loop_definition(maxIterations=50, timeBudgetMs=1000))
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["loopState"]["stopReason"] == "time_budget"
    assert len(done["loopState"]["iterations"]) == 1 and len(llm_env.requests) == 1


def test_a_failed_iteration_ends_the_loop_with_error(client, llm_env):
    llm_env.enqueue_text("v1")
    llm_env.enqueue_error(400, "nope")
    workflow_id = start(client, loop_definition())
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["status"] == "failed" and done["loopState"]["stopReason"] == "error"
    assert [i["status"] for i in done["loopState"]["iterations"]] == ["completed", "failed"]


def test_pausing_a_loop_stops_before_the_next_iteration_and_execute_resumes_it(client, llm_env):
    iteration_1 = threading.Event()
    llm_env.enqueue_text("v1", gate=iteration_1)  # held until the pause is in
    workflow_id = start(client, loop_definition(maxIterations=2))
    try:
        wait_until(lambda: llm_env.requests, what="iteration 1's model call")
        r = client.patch(f"/api/workflows/{workflow_id}", json={"status": "paused"})
        assert r.status_code == 200 and r.json() == {"id": workflow_id, "status": "paused"}
    finally:
        iteration_1.set()
    wait_until(lambda: status(client, workflow_id)["run"]["status"] == "paused", what="the run to reach its pause point")
    state = status(client, workflow_id)
    assert state["loopState"]["stopReason"] == "human_pause"
    assert [i["result"] for i in state["loopState"]["iterations"]] == ["v1"]  # the running one finished
    llm_env.enqueue_text("v2")
    r = client.post(f"/api/workflows/{workflow_id}/execute")
    assert r.status_code == 202 and r.json()["runNumber"] == 1  # resumed, not a new run
    done = wait_status(client, workflow_id, "completed", "failed")
    assert done["loopState"]["stopReason"] == "max_iterations"
    assert [i["result"] for i in done["loopState"]["iterations"]] == ["v1", "v2"]
    assert prompts(llm_env)[1].startswith("[Workflow] Loop Iteration 2\n\nIteration 2 of 2.\nPrevious iteration output:\nv1")

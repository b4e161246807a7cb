"""Executing tasks through the real runner, litellm and the fake provider on loopback."""

from __future__ import annotations

import json

import httpx

from tests.helpers.sse import iter_events, skip_until


def queued_task(client, **fields) -> dict:
    task = client.post("/api/tasks", json={"title": "Say hello", **fields}).json()
    r = client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    assert r.status_code == 200
    return r.json()


def read_task_stream(daemon, task_id: str, headers: dict | None = None) -> list:
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task_id}/logs", headers=headers or {}, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(iter_events(r.iter_lines()))


def test_lifecycle_queued_running_completed_with_streamed_output(daemon, client, llm_env):
    llm_env.enqueue_text("Hello from the fake model, streamed in pieces.")
    task = queued_task(client)

    r = client.post(f"/api/tasks/{task['id']}/execute")
    assert r.status_code == 202
    assert r.json() == {"message": "Execution started"}

    events = read_task_stream(daemon, task["id"])  # closes by itself when the task ends
    rows = [e.json() for e in events]
    kinds = [row["event"] for row in rows]
    assert kinds[0] == "started"
    assert kinds[-1] == "completed"
    assert "usage" in kinds
    streamed = "".join(json.loads(row["payload"])["text"] for row in rows if row["event"] == "stream")
    assert streamed == "Hello from the fake model, streamed in pieces."
    assert [int(e.id) for e in events] == sorted({int(e.id) for e in events})

    done = client.get(f"/api/tasks/{task['id']}").json()
    assert done["status"] == "completed"
    assert done["result"] == "Hello from the fake model, streamed in pieces."
    assert done["usage"]["inputTokens"] == 11 and done["usage"]["outputTokens"] == 7
    assert done["usage"]["modelId"] == "openai/fake"
    sent = llm_env.requests[0]
    assert sent["stream"] is True
    assert sent["messages"][-1]["content"] == "Say hello"
    assert {t["function"]["name"] for t in sent["tools"]} >= {"read_file", "list_files", "create_task", "update_output"}


def test_execute_only_from_queued(client, llm_env):
    task = client.post("/api/tasks", json={"title": "x"}).json()
    r = client.post(f"/api/tasks/{task['id']}/execute")
    assert r.status_code == 400
    assert r.json() == {"error": "Task must be queued to execute, current status: planned"}
    assert client.post("/api/tasks/nope/execute").status_code == 404


def test_tool_calls_run_inside_the_working_directory_and_loop_until_done(daemon, client, llm_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("the secret word is mango")
    (tmp_path / "outside.txt").write_text("must not be readable")
    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(work)}).json()
    client.post("/api/permissions", json={"pattern": "create_task"})  # it would ask (decisions/010)
    llm_env.enqueue_tool_calls([("list_files", {}, "c1"), ("read_file", {"path": "notes.txt"}, "c2")])
    llm_env.enqueue_tool_call("read_file", {"path": "../outside.txt"}, call_id="c3")
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up on mango"}, call_id="c4")
    llm_env.enqueue_text("The word is mango.")
    task = queued_task(client, projectId=project["id"])

    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    rows = [e.json() for e in read_task_stream(daemon, task["id"])]

    starts = [json.loads(r["payload"]) for r in rows if r["event"] == "tool_start"]
    assert [s["tool"] for s in starts] == ["list_files", "read_file", "read_file", "create_task"]
    results = [json.loads(r["payload"])["output"] for r in rows if r["event"] == "tool_result"]
    assert "notes.txt" in results[0]
    assert results[1] == "the secret word is mango"
    assert "outside the working directory" in results[2]
    # Tool results went back to the model in order, paired with their call ids.
    tool_messages = [m for m in llm_env.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3", "c4"]
    assert client.get(f"/api/tasks/{task['id']}").json()["result"] == "The word is mango."
    follow_up = [t for t in client.get("/api/tasks").json() if t["title"] == "Follow up on mango"]
    assert follow_up and follow_up[0]["projectId"] == project["id"] and follow_up[0]["status"] == "planned"


def test_update_output_tool_sets_the_result(daemon, client, llm_env):
    llm_env.enqueue_tool_call("update_output", {"content": "# Report\n\n**done**"})
    llm_env.enqueue_text("I wrote the report.")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})
    output = client.get(f"/api/tasks/{task['id']}/output").json()
    assert output == {"taskId": task["id"], "status": "completed", "result": "# Report\n\n**done**",
                      "contentType": "markdown"}


def test_provider_errors_are_retried_then_succeed(daemon, client, llm_env):
    llm_env.enqueue_error(429, "slow down", headers={"Retry-After": "0"})
    llm_env.enqueue_error(503, "overloaded", headers={"Retry-After": "0"})
    llm_env.enqueue_text("made it")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    rows = [e.json() for e in read_task_stream(daemon, task["id"])]
    retries = [json.loads(r["payload"]) for r in rows if r["event"] == "retry"]
    assert [r["attempt"] for r in retries] == [1, 2]
    assert "slow down" in retries[0]["message"]
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "completed"
    assert len(llm_env.requests) == 3


def test_provider_failure_fails_the_task_with_the_providers_message(daemon, client, llm_env):
    llm_env.enqueue_error(400, "model fake does not accept this request")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    rows = [e.json() for e in read_task_stream(daemon, task["id"])]
    assert rows[-1]["event"] == "error"
    assert "model fake does not accept this request" in json.loads(rows[-1]["payload"])["message"]
    failed = client.get(f"/api/tasks/{task['id']}").json()
    assert failed["status"] == "failed"
    assert "model fake does not accept this request" in failed["result"]
    assert len(llm_env.requests) == 1  # a 400 is not retried


def test_retries_give_up_after_the_limit(daemon, client, llm_env):
    for _ in range(4):
        llm_env.enqueue_error(500, "boom", headers={"Retry-After": "0"})
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    failed = daemon.wait_for_status(task["id"], {"failed"})
    assert "boom" in failed["result"]
    assert len(llm_env.requests) == 4


def test_malformed_stream_is_retried(daemon, client, llm_env):
    llm_env.enqueue_malformed()
    llm_env.enqueue_text("recovered")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed", done["result"]
    assert done["result"] == "recovered"


def test_cancel_stops_a_streaming_run(daemon, client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.1, chunks=600)
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
        events = iter_events(r.iter_lines())
        skip_until(events, "stream")
        assert client.post(f"/api/tasks/{task['id']}/cancel").json() == {"success": True}
        rest = [e.json()["event"] for e in events]  # the stream ends once the task is cancelled
    assert rest[-1] == "cancelled"
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "cancelled"
    # Nothing is logged for the task after the cancel.
    logs = [e.json()["event"] for e in read_task_stream(daemon, task["id"])]
    assert logs[-1] == "cancelled"


def test_cancel_of_queued_and_finished_tasks(client):
    task = queued_task(client)
    assert client.post(f"/api/tasks/{task['id']}/cancel").json() == {"success": True}
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "cancelled"
    assert client.post(f"/api/tasks/{task['id']}/cancel").status_code == 200
    assert client.post("/api/tasks/missing/cancel").status_code == 404


def test_resume_continues_the_saved_session(daemon, client, llm_env):
    llm_env.enqueue_error(401, "bad key")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    failed = daemon.wait_for_status(task["id"], {"failed"})
    assert failed["sessionId"]

    llm_env.enqueue_text("resumed fine")
    r = client.post(f"/api/tasks/{task['id']}/resume")
    assert r.status_code == 202 and r.json() == {"message": "Resume started"}
    done = daemon.wait_for_status(task["id"], {"completed"})
    assert done["resumeCount"] == 1 and done["result"] == "resumed fine"
    last = llm_env.requests[-1]["messages"]
    assert last[1]["content"] == "Say hello" and "Continue" in last[-1]["content"]
    # Resume only from failed/cancelled.
    assert client.post(f"/api/tasks/{task['id']}/resume").status_code == 400


def test_resume_without_session_says_use_retry(client):
    task = client.post("/api/tasks", json={"title": "never ran"}).json()
    r = client.post(f"/api/tasks/{task['id']}/resume")
    assert r.status_code == 400 and "Retry" in r.json()["error"]


def test_no_provider_configured_fails_at_once_with_instructions(client):
    task = queued_task(client)
    r = client.post(f"/api/tasks/{task['id']}/execute")
    assert r.status_code == 400
    assert "/api/settings/openai" in r.json()["error"]
    failed = client.get(f"/api/tasks/{task['id']}").json()
    assert failed["status"] == "failed" and "OPENAI_API_KEY" in failed["result"]


def test_step_limit_fails_the_task(daemon, client, llm_env):
    daemon.app.state.runner.max_steps = 2
    llm_env.enqueue_tool_call("list_files", {})
    llm_env.enqueue_tool_call("list_files", {})
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    failed = daemon.wait_for_status(task["id"], {"failed"})
    assert "Step limit" in failed["result"]


def test_usage_and_cost_come_from_litellms_cost_map(daemon, client, llm_env):
    llm_env.enqueue_text("priced", usage=(1000, 500))
    task = queued_task(client, modelId="openai/gpt-4o-mini")
    client.post(f"/api/tasks/{task['id']}/execute")
    done = daemon.wait_for_status(task["id"], {"completed"})
    assert done["usage"]["inputTokens"] == 1000 and done["usage"]["outputTokens"] == 500
    assert done["usage"]["costMicros"] > 0
    assert llm_env.requests[-1]["model"] == "gpt-4o-mini"


def test_concurrent_executes_claim_the_task_once(daemon, client, llm_env):
    from concurrent.futures import ThreadPoolExecutor

    llm_env.enqueue_text("once")
    task = queued_task(client)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: httpx.post(f"{daemon.url}/api/tasks/{task['id']}/execute").status_code,
                              range(8)))
    assert sorted(codes) == [202] + [400] * 7
    daemon.wait_for_status(task["id"], {"completed"})
    assert len(llm_env.requests) == 1


def test_deleting_a_task_ends_its_log_stream(daemon, client, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
        events = iter_events(r.iter_lines())
        skip_until(events, "stream")
        assert client.delete(f"/api/tasks/{task['id']}").json() == {"success": True}
        list(events)  # returns because the server ends the stream
    assert client.get(f"/api/tasks/{task['id']}").status_code == 404


def test_a_provider_timeout_is_retried(daemon, client, llm_env):
    daemon.app.state.runner.request_timeout = 0.5
    daemon.app.state.runner.retry_base_delay = 0.01
    llm_env.enqueue_text("too late", delay=3)
    llm_env.enqueue_text("in time")
    task = queued_task(client)
    client.post(f"/api/tasks/{task['id']}/execute")
    rows = [e.json() for e in read_task_stream(daemon, task["id"])]
    retries = [json.loads(r["payload"]) for r in rows if r["event"] == "retry"]
    assert len(retries) == 1 and "Timeout" in retries[0]["message"]
    assert client.get(f"/api/tasks/{task['id']}").json()["result"] == "in time"


def test_a_task_stops_when_its_own_budget_is_spent(daemon, client, llm_env):
    client.post("/api/settings/pricing", json={"models": [
        {"modelId": "openai/fake", "inputPer1M": 1000, "outputPer1M": 2000}]})  # 11+7 tokens: $0.025 a call
    client.post("/api/permissions", json={"pattern": "list_files"})
    llm_env.enqueue_tool_call("list_files", {}, call_id="c1")
    llm_env.enqueue_text("never asked for")
    task = queued_task(client, modelId="openai/fake", maxBudgetUsd=0.02)
    assert task["maxBudgetUsd"] == 0.02
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "failed"
    assert done["result"].startswith("budget_exceeded: this task's own budget of $0.02 is spent ($0.03)")
    assert len(llm_env.requests) == 1  # the second call was not made
    assert done["usage"]["costMicros"] == 25_000

    # Raised, it resumes from the saved session and finishes.
    assert client.patch(f"/api/tasks/{task['id']}", json={"maxBudgetUsd": 1}).status_code == 200
    assert client.post(f"/api/tasks/{task['id']}/resume").status_code == 202
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"


def test_the_task_budget_must_be_a_positive_amount(client):
    for bad in (0, -1, 20_000, "2", True):
        r = client.post("/api/tasks", json={"title": "t", "maxBudgetUsd": bad})
        assert r.status_code == 400, bad
    task = client.post("/api/tasks", json={"title": "t"}).json()
    assert task["maxBudgetUsd"] is None  # the default applies: $2 ($5 for a workflow step)
    assert client.patch(f"/api/tasks/{task['id']}", json={"maxBudgetUsd": 0}).status_code == 400
    assert client.get(f"/api/tasks/{task['id']}").json()["maxBudgetUsd"] is None

"""A profile shapes a task run: the fake provider receives the profile's SKILL.md in the system
prompt and only its allowed tools; its policy auto-denies and auto-approves calls; a task with no
profile (or `auto`) gets one from the keyword classifier, saved with the reason in its log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stagent.engine.profiles.classifier import classify


@pytest.fixture(autouse=True)
def skills_home(tmp_path, monkeypatch):
    home = tmp_path / "claude-skills"
    home.mkdir()
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(home))
    return home


def make_profile(client, **over) -> dict:
    body = {"id": "careful", "name": "Careful", "version": "1.0.0", "domain": "work", "tags": ["careful"],
            "skillMd": "---\nname: Careful\ndescription: Careful.\n---\n\nALWAYS ANSWER IN HAIKU.",
            "allowedTools": ["Read", "LS", "Write"],
            "canUseToolPolicy": {"autoDeny": ["Read"], "autoApprove": ["Write"]},
            "outputFormat": "three lines", **over}
    assert client.post("/api/profiles", json=body).status_code == 201, body
    return body


def run(daemon, client, **fields) -> dict:
    task = client.post("/api/tasks", json={"title": "Do it", **fields})
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    assert client.patch(f"/api/tasks/{task_id}", json={"status": "queued"}).status_code == 200
    r = client.post(f"/api/tasks/{task_id}/execute")
    assert r.status_code == 202, r.text
    return daemon.wait_for_status(task_id, {"completed", "failed", "cancelled"})


def log_lines(client, task_id: str) -> list[dict]:
    return client.get(f"/api/events/logs?taskId={task_id}").json()["lines"]


def test_profile_prompt_tools_and_policy_reach_the_model(daemon, client, llm_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "secret.txt").write_text("top secret")
    project = client.post("/api/projects", json={"name": "P", "workingDirectory": str(work)}).json()
    make_profile(client)
    llm_env.enqueue_tool_calls([("read_file", {"path": "secret.txt"}, "c1"),
                                ("write_file", {"path": "out.txt", "content": "hi"}, "c2")])
    llm_env.enqueue_text("Done.")
    task = run(daemon, client, agentProfile="careful", projectId=project["id"])
    assert task["status"] == "completed", task

    first = llm_env.requests[0]
    system = first["messages"][0]["content"]
    assert system.startswith("You are stagent's task agent")  # the base prompt, then the profile's
    assert "ALWAYS ANSWER IN HAIKU." in system and "## Profile: Careful" in system and "three lines" in system
    assert "name: Careful" not in system  # front matter is not instructions
    assert {t["function"]["name"] for t in first["tools"]} == {"read_file", "list_files", "write_file",
                                                               "update_output"}
    results = {m["tool_call_id"]: m["content"] for m in llm_env.requests[1]["messages"] if m["role"] == "tool"}
    assert results["c1"].startswith("Permission denied: Denied by the policy of profile 'careful'")
    assert "top secret" not in results["c1"]
    assert (work / "out.txt").read_text() == "hi"  # auto-approved: nobody was asked
    assert client.get("/api/notifications").json() == [] or all(
        n["type"] != "permission_required" for n in client.get("/api/notifications").json())


def test_profile_max_turns_bounds_the_run(daemon, client, llm_env):
    make_profile(client, maxTurns=1, allowedTools=["LS"], canUseToolPolicy=None)
    llm_env.enqueue_tool_call("list_files", {"path": "."})
    llm_env.enqueue_text("never asked")
    task = run(daemon, client, agentProfile="careful")
    assert task["status"] == "failed" and "1 model turns" in task["result"]
    assert len(llm_env.requests) == 1


def test_model_override_of_the_profile_is_used(daemon, client, llm_env):
    make_profile(client, capabilityOverrides={"openai-direct": {"modelId": "openai/fake-special"}},
                 canUseToolPolicy=None)
    llm_env.enqueue_text("ok")
    run(daemon, client, agentProfile="careful")
    assert llm_env.requests[0]["model"] == "fake-special"


def test_auto_and_missing_profiles_are_classified_and_recorded(daemon, client, llm_env):
    llm_env.enqueue_text("ok")
    task = run(daemon, client, title="Deploy the docker image to the kubernetes cluster", agentProfile="auto")
    assert task["agentProfile"] == "devops-engineer"
    line = next(x for x in log_lines(client, task["id"]) if x["event"] == "profile_assigned")
    assert json.loads(line["payload"])["profile"] == "devops-engineer"
    assert "tag matches" in json.loads(line["payload"])["reason"]
    assert "DevOps Engineer" in llm_env.requests[-1]["messages"][0]["content"]

    llm_env.enqueue_text("ok")
    task = run(daemon, client, title="Say hello")
    assert task["agentProfile"] == "general"
    reason = json.loads(next(x for x in log_lines(client, task["id"]) if x["event"] == "profile_assigned")["payload"])
    assert reason["profile"] == "general"


def test_a_profile_deleted_before_execute_fails_the_task_with_400(daemon, client, llm_env):
    make_profile(client)
    task = client.post("/api/tasks", json={"title": "x", "agentProfile": "careful"}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.delete("/api/profiles/careful")
    r = client.post(f"/api/tasks/{task['id']}/execute")
    assert r.status_code == 400 and "Unknown profile 'careful'" in r.text
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "failed"


def test_classifier_needs_two_hits():
    profiles = [{"id": "a", "tags": ["alpha", "beta"]}, {"id": "b", "tags": ["gamma"], "supportedRuntimes": ["ollama"]}]
    assert classify("alpha and beta", None, profiles)[0] == "a"
    assert classify("only alpha", None, profiles)[0] == "general"
    assert classify("gamma", "gamma", profiles, runtime_id="openai-direct")[0] == "general"


def test_a_profiles_mcp_servers_are_started_for_its_runs(daemon, client, llm_env, tmp_path):
    fake_server = str(Path(__file__).resolve().parents[1] / "fakes" / "mcp_server.py")
    calls = tmp_path / "calls.jsonl"
    make_profile(client, allowedTools=["Read"], canUseToolPolicy={"autoApprove": ["mcp__fake__echo"]},
                 mcpServers={"fake": {"command": sys.executable, "args": [fake_server],
                                      "env": {"FAKE_MCP_CALLS": str(calls)}}})
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "hello"}, call_id="m1")
    llm_env.enqueue_text("Done.")
    task = run(daemon, client, agentProfile="careful")
    assert task["status"] == "completed", task
    names = {t["function"]["name"] for t in llm_env.requests[0]["tools"]}
    assert {"mcp__fake__echo", "read_file", "update_output"} <= names and "write_file" not in names
    results = {m["tool_call_id"]: m["content"] for m in llm_env.requests[1]["messages"] if m["role"] == "tool"}
    assert "hello" in results["m1"]


def test_the_model_override_applies_to_scheduled_firings_and_workflow_steps(daemon, client, llm_env):
    from tests.helpers.workflows import start, wait_status

    make_profile(client, capabilityOverrides={"openai-direct": {"modelId": "openai/fake-special"}},
                 canUseToolPolicy=None)
    schedule = client.post("/api/schedules", json={"name": "Nightly", "interval": "every day at 3am",
                                                   "prompt": "Summarise", "agentProfile": "careful"})
    assert schedule.status_code == 201, schedule.text
    llm_env.enqueue_text("fired")
    fired = client.post(f"/api/schedules/{schedule.json()['id']}/execute")
    assert fired.status_code in (200, 201, 202), fired.text
    task_id = fired.json().get("taskId") or fired.json().get("id")
    assert daemon.wait_for_status(task_id, {"completed", "failed"})["status"] == "completed"
    assert llm_env.requests[-1]["model"] == "fake-special"

    llm_env.enqueue_text("step done")
    workflow_id = start(client, {"pattern": "sequence", "steps": [
        {"id": "a", "name": "A", "prompt": "do a", "agentProfile": "careful"}]})
    assert wait_status(client, workflow_id, "completed", "failed")["status"] == "completed"
    assert llm_env.requests[-1]["model"] == "fake-special"


HOOKS = {"preToolCall": ["echo \"pre $STAGENT_TOOL_NAME $STAGENT_TOOL_INPUT\" >> hooks.log",
                         "[ \"$STAGENT_TOOL_NAME\" != write_file ] || { echo no writes in this profile; exit 3; }"],
         "postToolCall": "echo \"post $STAGENT_TOOL_NAME $(printf %s \"$STAGENT_TOOL_RESULT\" | head -c 5)\" >> hooks.log"}


def hook_run(daemon, client, llm_env, tmp_path) -> tuple[dict, Path, list[str]]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("alpha")
    project = client.post("/api/projects", json={"name": "P", "workingDirectory": str(work)}).json()
    make_profile(client, hooks=HOOKS, canUseToolPolicy={"autoApprove": ["Write"]})
    llm_env.enqueue_tool_calls([("read_file", {"path": "a.txt"}, "c1"),
                                ("write_file", {"path": "b.txt", "content": "beta"}, "c2")])
    llm_env.enqueue_text("Done.")
    task = run(daemon, client, agentProfile="careful", projectId=project["id"])
    results = {m["tool_call_id"]: m["content"] for m in llm_env.requests[1]["messages"] if m["role"] == "tool"}
    return task, work, [results["c1"], results["c2"]]


def test_profile_hooks_run_around_tool_calls_and_a_failing_pre_hook_blocks_the_call(daemon, client, llm_env,
                                                                                       tmp_path):
    assert client.post("/api/permissions", json={"pattern": "Bash"}).status_code == 200
    task, work, (read, write) = hook_run(daemon, client, llm_env, tmp_path)
    assert task["status"] == "completed"
    assert read == "alpha"
    assert write.startswith("error: the profile's preToolCall hook blocked this call (exit code 3)")
    assert "no writes in this profile" in write and not (work / "b.txt").exists()
    assert (work / "hooks.log").read_text().splitlines() == [
        'pre read_file {"path": "a.txt"}', "post read_file alpha",
        'pre write_file {"path": "b.txt", "content": "beta"}']
    hooks = [line for line in log_lines(client, task["id"]) if line["event"] == "hook"]
    assert [(json.loads(h["payload"])["event"], json.loads(h["payload"])["exitCode"]) for h in hooks] == [
        ("preToolCall", 0), ("preToolCall", 0), ("postToolCall", 0), ("preToolCall", 0), ("preToolCall", 3)]


def test_profile_hooks_nobody_allowed_are_skipped_and_said_so(daemon, client, llm_env, tmp_path):
    task, work, (read, write) = hook_run(daemon, client, llm_env, tmp_path)
    assert read == "alpha" and (work / "b.txt").read_text() == "beta"  # the calls run, the hooks do not
    assert not (work / "hooks.log").exists()
    skipped = [json.loads(line["payload"]) for line in log_lines(client, task["id"]) if line["event"] == "hook_skipped"]
    assert len(skipped) == 3 and all("no permission pattern allows it" in s["reason"] for s in skipped)

"""run_command end to end: real tasks on the real daemon (runner, litellm, the fake provider),
real bash subprocesses in a project's working directory, the live log read over SSE.

Process checks read /proc: a pid is gone when it has no entry or is a zombie (its parent was
killed, and whatever reaps orphans here may not have reaped it yet; it no longer runs).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest

from stagent.engine.agent import shell
from tests.conftest import Daemon
from tests.engine.test_approvals import log_rows, start_task, tool_messages, wait_for_request
from tests.helpers.scheduling import wait_until
from tests.helpers.sse import iter_events

ANTHROPIC_KEY = "sk-ant-api03-shell-secret-4321"
# A child shell that starts a grandchild, records both pids, says so, and waits on it.
TREE = ("echo $$ > child.pid; bash -c 'sleep 300 & echo $! > grandchild.pid; echo tree-started; wait'; "
        "echo unreachable")


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pid_in(folder: Path, name: str) -> int:
    return int(wait_until(lambda: (folder / name).exists() and (folder / name).read_text().strip(),
                          what=name))


def project(client, folder: Path) -> dict:
    return client.post("/api/projects", json={"name": "shell", "workingDirectory": str(folder)}).json()


def allow_commands(client) -> None:
    assert client.post("/api/permissions", json={"pattern": "Bash"}).status_code == 200


def run(daemon, client, llm_env, folder: Path, command: str, **extra) -> tuple[dict, str]:
    """A task whose model calls run_command once, then answers; (the ended task, the tool result)."""
    llm_env.enqueue_tool_call("run_command", {"command": command, **extra}, call_id="c1")
    llm_env.enqueue_text("done")
    task = start_task(client, "Run it", projectId=project(client, folder)["id"])
    done = daemon.wait_for_status(task["id"], {"completed", "failed", "cancelled"}, timeout=60)
    return done, tool_messages(llm_env.requests[-1])[0]


def wait_for_output(daemon, task_id: str, text: str) -> list[dict]:
    """The task's log lines up to the first command_output line holding `text` (read from SSE)."""
    seen = []
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task_id}/logs", timeout=60) as r:
        for event in iter_events(r.iter_lines()):
            row = event.json()
            row["payload"] = json.loads(row["payload"])
            seen.append(row)
            if row["event"] == "command_output" and text in row["payload"]["text"]:
                return seen
    raise AssertionError(f"the log ended before {text!r} was printed: {seen}")


def test_a_command_runs_in_the_working_directory_with_its_exit_code_and_both_streams(
        daemon, client, llm_env, tmp_path):
    allow_commands(client)
    done, result = run(daemon, client, llm_env, tmp_path, "pwd; echo to-out; echo to-err >&2; exit 3")
    assert done["status"] == "completed"
    lines = result.splitlines()
    assert lines[0] == "exit code 3"
    assert str(tmp_path.resolve()) in lines and "to-out" in lines and "to-err" in lines
    streams = {row["payload"]["stream"] for row in log_rows(daemon, done["id"]) if row["event"] == "command_output"}
    assert streams == {"stdout", "stderr"}


def test_output_streams_into_the_log_while_the_command_runs(daemon, client, llm_env, tmp_path):
    allow_commands(client)
    os.mkfifo(tmp_path / "gate")
    llm_env.enqueue_tool_call("run_command", {"command": "echo first-line; read word < gate; echo second-$word"})
    llm_env.enqueue_text("done")
    task = start_task(client, "Stream it", projectId=project(client, tmp_path)["id"])

    seen = wait_for_output(daemon, task["id"], "first-line")
    # The command is now blocked on the gate: the second line cannot exist yet.
    assert not any("second" in row["payload"].get("text", "") for row in seen if row["event"] == "command_output")
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "running"
    with open(tmp_path / "gate", "w") as gate:
        gate.write("go\n")

    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    output = [row["payload"]["text"] for row in log_rows(daemon, task["id"]) if row["event"] == "command_output"]
    assert "".join(output) == "first-line\nsecond-go\n"
    assert tool_messages(llm_env.requests[-1])[0] == "exit code 0\nfirst-line\nsecond-go\n"


def test_timeout_kills_the_child_and_its_grandchildren(daemon, client, llm_env, tmp_path):
    allow_commands(client)
    done, result = run(daemon, client, llm_env, tmp_path, TREE, timeout_seconds=1)
    assert done["status"] == "completed"  # a tool failure is the model's to handle, not the task's
    assert result.startswith("error: the command timed out after 1 s and was killed")
    assert "tree-started" in result and "unreachable" not in result
    for name in ("child.pid", "grandchild.pid"):
        pid = pid_in(tmp_path, name)
        wait_until(lambda pid=pid: not running(pid), timeout=10, what=f"{name} {pid} to end")


def test_cancelling_the_task_kills_the_child_and_its_grandchildren(daemon, client, llm_env, tmp_path):
    allow_commands(client)
    llm_env.enqueue_tool_call("run_command", {"command": TREE})
    task = start_task(client, "Run long", projectId=project(client, tmp_path)["id"])
    wait_for_output(daemon, task["id"], "tree-started")
    pids = [pid_in(tmp_path, "child.pid"), pid_in(tmp_path, "grandchild.pid")]
    assert all(running(pid) for pid in pids)

    assert client.post(f"/api/tasks/{task['id']}/cancel").status_code == 200
    for pid in pids:
        wait_until(lambda pid=pid: not running(pid), timeout=10, what=f"pid {pid} to end")
    assert daemon.wait_for_status(task["id"], {"cancelled"})["status"] == "cancelled"


def test_daemon_shutdown_kills_the_child_and_its_grandchildren(llm_env, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    d = Daemon(tmp_path / "data")
    try:
        allow_commands(d.client)
        llm_env.enqueue_tool_call("run_command", {"command": TREE})
        task = start_task(d.client, "Run long", projectId=project(d.client, folder)["id"])
        wait_for_output(d, task["id"], "tree-started")
        pids = [pid_in(folder, "child.pid"), pid_in(folder, "grandchild.pid")]
        assert all(running(pid) for pid in pids)
    finally:
        d.stop()
    for pid in pids:
        wait_until(lambda pid=pid: not running(pid), timeout=10, what=f"pid {pid} to end")


def test_the_environment_holds_no_provider_key_and_secrets_are_masked(daemon, client, llm_env, tmp_path,
                                                                      monkeypatch):
    allow_commands(client)
    assert client.post("/api/settings", json={"apiKey": ANTHROPIC_KEY}).status_code == 200
    daemon_key = daemon.api_key
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-value-000111")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123456789")
    monkeypatch.setenv("HARMLESS_SETTING", "keep-me")
    monkeypatch.setenv("COPIED_PROVIDER_KEY", f"Bearer {ANTHROPIC_KEY}")
    monkeypatch.setenv("COPIED_DAEMON_KEY", daemon_key)
    (tmp_path / "leak.txt").write_text(f"the key is {ANTHROPIC_KEY}\n")

    done, result = run(daemon, client, llm_env, tmp_path, "env; cat leak.txt")
    assert done["status"] == "completed"
    names = {line.split("=", 1)[0] for line in result.splitlines() if "=" in line}
    assert "HARMLESS_SETTING" in names and "PATH" in names
    assert not names & {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_SERVICE_TOKEN", "COPIED_PROVIDER_KEY",
                        "COPIED_DAEMON_KEY", "STAGENT_API_KEY"}
    assert "the key is [REDACTED]" in result
    logged = json.dumps(log_rows(daemon, done["id"]))
    for secret in (ANTHROPIC_KEY, daemon_key, "sk-test-env", "sk-ant-env-value-000111", "tok-123456789"):
        assert secret not in result and secret not in logged


def test_a_command_asks_unless_a_pattern_allows_it(daemon, client, llm_env, tmp_path):
    assert client.post("/api/permissions", json={"pattern": "Bash(git *)"}).status_code == 200
    llm_env.enqueue_tool_calls([("run_command", {"command": "git --version"}, "c1"),
                                ("run_command", {"command": "touch made-by-agent"}, "c2")])
    llm_env.enqueue_text("ok")
    task = start_task(client, "Use git", projectId=project(client, tmp_path)["id"])

    request = wait_for_request(daemon.url, task["id"])  # the git call ran; the other one asks
    assert request["toolName"] == "run_command" and request["toolInput"] == {"command": "touch made-by-agent"}
    assert request["suggestedPattern"] == "run_command(command:touch *)"
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "deny", "message": "no files"})
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    git, touch = tool_messages(llm_env.requests[-1])
    assert git.startswith("exit code 0\ngit version")
    assert touch == "Permission denied: no files"
    assert not (tmp_path / "made-by-agent").exists()


def test_an_allowed_request_runs_the_command(daemon, client, llm_env, tmp_path):
    llm_env.enqueue_tool_call("run_command", {"command": "touch made-by-agent && echo made"})
    llm_env.enqueue_text("ok")
    task = start_task(client, "Make a file", projectId=project(client, tmp_path)["id"])
    request = wait_for_request(daemon.url, task["id"])
    client.post(f"/api/tasks/{task['id']}/respond",
                json={"notificationId": request["notificationId"], "behavior": "allow"})
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert tool_messages(llm_env.requests[-1]) == ["exit code 0\nmade\n"]
    assert (tmp_path / "made-by-agent").exists()


def test_a_task_without_a_working_directory_gets_an_error_result(daemon, client, llm_env):
    allow_commands(client)
    llm_env.enqueue_tool_call("run_command", {"command": "true"})
    llm_env.enqueue_text("ok")
    task = start_task(client, "No project")
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert tool_messages(llm_env.requests[-1])[0].startswith("error: this task's project has no working directory")


# ---- the engine's run_shell directly (real subprocesses, no daemon) --------------------------

def test_long_output_keeps_its_head_and_tail(tmp_path):
    command = "for i in $(seq 1 20000); do echo line-$i; done"
    status, output = asyncio.run(shell.run_shell(command, tmp_path, dict(os.environ), 60))
    assert status == 0
    assert output.startswith("line-1\nline-2\n") and output.endswith("line-19999\nline-20000\n")
    assert "characters of output omitted" in output
    assert len(output) < 2 * shell.RESULT_HALF + 200


def test_log_lines_are_coalesced_and_capped(tmp_path):
    lines: list[dict] = []
    command = "for i in $(seq 1 3000); do echo line-$i; done"
    status, _ = asyncio.run(shell.run_shell(command, tmp_path, dict(os.environ), 60,
                                            lambda kind, payload: lines.append(payload), log_limit=5_000))
    assert status == 0
    assert len(lines) < 3000 / 10  # many lines per log line
    assert sum(len(p["text"]) for p in lines) < 5_000 + 200 and lines[-1].get("truncated") is True
    assert "".join(p["text"] for p in lines).startswith("line-1\nline-2\n")


@pytest.mark.parametrize("value", ["ten", True, [5]])
def test_a_bad_timeout_is_an_error_the_model_reads(value):
    with pytest.raises(shell.ToolError, match="timeout_seconds"):
        shell._timeout({"timeout_seconds": value})
    assert shell._timeout({}) == shell.DEFAULT_TIMEOUT and shell._timeout({"timeout_seconds": 9999}) == 600


# ---- processes that leave the command's process group ----------------------------------------

# A grandchild that starts its own session (so killpg of the command's group misses it), then
# writes its pid and session id; the shell waits until it has.
ESCAPE = ("python3 -c 'import os, time; os.setsid(); open(\"gc.tmp\", \"w\").write(f\"{os.getpid()} {os.getsid(0)}\"); "
          "os.rename(\"gc.tmp\", \"gc.pid\"); time.sleep(300)' & "
          "while [ ! -f gc.pid ]; do sleep 0.05; done; echo escaped")


def escaped_pid(folder: Path) -> int:
    pid, sid = map(int, (folder / "gc.pid").read_text().split())
    assert pid == sid  # it really left the command's session and group
    return pid


@pytest.mark.parametrize("ending", ["exit", "timeout"])
def test_a_grandchild_that_calls_setsid_does_not_outlive_the_command(tmp_path, ending):
    command = ESCAPE + ("; sleep 300" if ending == "timeout" else "")
    status, output = asyncio.run(shell.run_shell(command, tmp_path, dict(os.environ), 8 if ending == "timeout" else 60))
    assert "escaped" in output
    assert (status is None) == (ending == "timeout")
    pid = escaped_pid(tmp_path)
    wait_until(lambda: not running(pid), what="the setsid grandchild to be gone", timeout=10)


def test_cancelling_a_command_kills_a_grandchild_that_called_setsid(tmp_path):
    async def scenario() -> int:
        run = asyncio.ensure_future(shell.run_shell(ESCAPE + "; sleep 300", tmp_path, dict(os.environ), 120))
        while not (tmp_path / "gc.pid").exists():
            await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        return escaped_pid(tmp_path)

    pid = asyncio.run(scenario())
    wait_until(lambda: not running(pid), what="the setsid grandchild to be gone", timeout=10)

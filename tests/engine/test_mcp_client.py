"""MCP servers' tools in task runs: the real daemon, the fake provider scripted per test, and the
fake MCP server (tests/fakes/mcp_server.py) as a real subprocess, over stdio and over
streamable HTTP on a loopback port.

Covered: the tools offered to the provider as mcp__fake__<tool>; calls made by a scripted task;
permissions (asked without a pattern, allowed by `mcp__fake__*`); a server killed mid-run and
restarted on the next call; one process reused across runs and gone after shutdown; a server
that cannot start, a tool that fails and a call that times out each give the model an error
while the task completes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import Daemon
from tests.fakes.provider import Reply
from tests.helpers.scheduling import wait_until
from tests.helpers.servers import free_port

FAKE_SERVER = str(Path(__file__).resolve().parents[1] / "fakes" / "mcp_server.py")
FAKE_TOOLS = {"mcp__fake__echo", "mcp__fake__add", "mcp__fake__pid", "mcp__fake__getenv", "mcp__fake__fail",
              "mcp__fake__wait"}


def stdio_entry(calls: Path, **extra) -> dict:
    return {"command": sys.executable, "args": [FAKE_SERVER], "env": {"FAKE_MCP_CALLS": str(calls)}, **extra}


def configure(daemon: Daemon, servers: dict, *, allow: bool = True) -> None:
    answer = daemon.client.put("/api/settings/mcp-servers", json={"mcpServers": servers})
    assert answer.status_code == 200, answer.text
    if allow:
        assert daemon.client.post("/api/permissions", json={"pattern": "mcp__fake__*"}).status_code == 200


def start_task(daemon: Daemon, title: str = "use the tools") -> str:
    task = daemon.client.post("/api/tasks", json={"title": title}).json()
    assert daemon.client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"}).status_code == 200
    started = daemon.client.post(f"/api/tasks/{task['id']}/execute")
    assert started.status_code == 202, started.text
    return task["id"]


def finished(daemon: Daemon, task_id: str) -> dict:
    return daemon.wait_for_status(task_id, {"completed", "failed", "cancelled"}, timeout=90)


def tool_names(request: dict) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def tool_results(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def log_lines(daemon: Daemon, task_id: str) -> list[dict]:
    return daemon.client.get("/api/events/logs", params={"taskId": task_id}).json()["lines"]


def calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of the test process counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def daemon(tmp_path, llm_env):
    d = Daemon(tmp_path / "data")
    yield d
    d.stop()


class HttpServer:
    """The fake MCP server over streamable HTTP, as a subprocess on a loopback port."""

    def __init__(self, calls: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.calls = calls
        self.proc: subprocess.Popen | None = None

    def start(self) -> HttpServer:
        env = {**os.environ, "FAKE_MCP_CALLS": str(self.calls)}
        self.proc = subprocess.Popen([sys.executable, FAKE_SERVER, "--http", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            assert self.proc.poll() is None, "the fake MCP server exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_until(listening, 60, "the fake MCP server to listen")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def http_server(tmp_path):
    server = HttpServer(tmp_path / "http-calls.jsonl").start()
    yield server
    server.kill()


# ---- stdio ---------------------------------------------------------------------------------------

def test_stdio_tools_are_offered_and_called_by_a_task(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record, env={"FAKE_MCP_CALLS": str(record), "FAKE_TOKEN": "tok-123456"})})
    llm_env.enqueue_tool_calls([("mcp__fake__echo", {"text": "hi"}, "c1"), ("mcp__fake__add", {"a": 2, "b": 3}, "c2"),
                                ("mcp__fake__getenv", {"name": "FAKE_TOKEN"}, "c3")])
    llm_env.enqueue_text("all done")
    task_id = start_task(daemon)

    task = finished(daemon, task_id)
    assert task["status"] == "completed" and task["result"] == "all done"
    assert FAKE_TOOLS <= tool_names(llm_env.requests[0])
    assert {"read_file", "list_files"} <= tool_names(llm_env.requests[0])  # the built-in tools stay
    offered = {t["function"]["name"]: t["function"] for t in llm_env.requests[0]["tools"]}
    assert offered["mcp__fake__echo"]["description"] == "Echo the text back."
    assert offered["mcp__fake__add"]["parameters"]["properties"].keys() == {"a", "b"}
    assert tool_results(llm_env.requests[1]) == ["echo: hi", "5", "tok-123456"]  # the env reached the server
    assert [c["tool"] for c in calls(record)] == ["echo", "add", "getenv"]
    events = [line["event"] for line in log_lines(daemon, task_id)]
    assert events.count("tool_result") == 3 and "permission_request" not in events


def test_an_mcp_tool_asks_without_a_pattern(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record)}, allow=False)
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "may I"})
    llm_env.enqueue_text("asked")
    task_id = start_task(daemon)

    pending = wait_until(lambda: [a for a in daemon.client.get("/api/notifications/pending-approvals").json()
                                  if a["taskId"] == task_id], 60, "the permission request")
    assert pending[0]["toolName"] == "mcp__fake__echo" and pending[0]["toolInput"] == {"text": "may I"}
    assert pending[0]["permissionLabel"] == "MCP fake/echo"
    assert calls(record) == []  # nothing ran before the answer
    answer = daemon.client.post(f"/api/notifications/{pending[0]['notificationId']}/respond",
                                json={"behavior": "allow"})
    assert answer.status_code == 200, answer.text

    assert finished(daemon, task_id)["status"] == "completed"
    assert tool_results(llm_env.requests[1]) == ["echo: may I"]


def test_a_denied_mcp_tool_does_not_run(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record)}, allow=False)
    assert daemon.client.post("/api/permissions", json={"pattern": "mcp__other__*"}).status_code == 200
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "no"})
    llm_env.enqueue_text("fine")
    task_id = start_task(daemon)
    pending = wait_until(lambda: [a for a in daemon.client.get("/api/notifications/pending-approvals").json()
                                  if a["taskId"] == task_id], 60, "the permission request")
    daemon.client.post(f"/api/notifications/{pending[0]['notificationId']}/respond", json={"behavior": "deny"})

    assert finished(daemon, task_id)["status"] == "completed"
    assert tool_results(llm_env.requests[1])[0].startswith("Permission denied")
    assert [c["tool"] for c in calls(record)] == []


def test_a_server_killed_mid_run_is_restarted_on_the_next_call(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record)})
    gate = threading.Event()
    llm_env.enqueue_tool_call("mcp__fake__pid", {}, call_id="first")
    llm_env._push(Reply("tools", tool_calls=[{"id": "second", "name": "mcp__fake__pid", "arguments": "{}"}],
                        gate=gate))
    llm_env.enqueue_text("survived")
    task_id = start_task(daemon)

    first = wait_until(lambda: calls(record), 60, "the first call")[0]["pid"]
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), 30, "the server to die")
    gate.set()

    assert finished(daemon, task_id)["status"] == "completed"
    first_result, second_result = tool_results(llm_env.requests[2])
    assert first_result == str(first)
    assert second_result.isdigit() and int(second_result) != first  # a new process answered
    assert alive(int(second_result))


def test_one_server_process_serves_many_runs_and_stops_with_the_daemon(tmp_path, llm_env):
    daemon = Daemon(tmp_path / "data")
    record = tmp_path / "calls.jsonl"
    try:
        configure(daemon, {"fake": stdio_entry(record)})
        for _ in range(2):
            llm_env.enqueue_tool_call("mcp__fake__pid", {})
            llm_env.enqueue_text("ok")
            assert finished(daemon, start_task(daemon))["status"] == "completed"
        assert (daemon.data_dir / "mcp-logs" / "fake.log").exists()  # its stderr
    finally:
        daemon.stop()
    (pid,) = {c["pid"] for c in calls(record)}  # both runs, one process
    wait_until(lambda: not alive(pid), 30, "the server to stop with the daemon")


def test_changing_a_servers_configuration_replaces_its_process(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record)})
    llm_env.enqueue_tool_call("mcp__fake__pid", {})
    llm_env.enqueue_text("ok")
    assert finished(daemon, start_task(daemon))["status"] == "completed"
    (before,) = {c["pid"] for c in calls(record)}

    configure(daemon, {"fake": stdio_entry(record, args=[FAKE_SERVER, "--name", "fake"])}, allow=False)
    wait_until(lambda: not alive(before), 30, "the old process to stop")
    llm_env.enqueue_tool_call("mcp__fake__pid", {})
    llm_env.enqueue_text("ok")
    assert finished(daemon, start_task(daemon))["status"] == "completed"
    assert calls(record)[-1]["pid"] != before


def test_a_server_that_cannot_start_leaves_the_run_going(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record), "broken": {"command": str(tmp_path / "no-such-server")}})
    llm_env.enqueue_tool_call("mcp__broken__anything", {})
    llm_env.enqueue_text("went on")
    task_id = start_task(daemon)

    task = finished(daemon, task_id)
    assert task["status"] == "completed" and task["result"] == "went on"
    offered = tool_names(llm_env.requests[0])
    assert FAKE_TOOLS <= offered and not any(name.startswith("mcp__broken__") for name in offered)
    assert tool_results(llm_env.requests[1])[0].startswith("error: unknown tool 'mcp__broken__anything'")
    unavailable = [json.loads(line["payload"]) for line in log_lines(daemon, task_id)
                   if line["event"] == "mcp_unavailable"]
    assert unavailable and unavailable[0]["server"] == "broken" and "command not found" in unavailable[0]["message"]


def test_a_failing_tool_and_a_slow_one_are_errors_the_model_reads(daemon, llm_env, tmp_path):
    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record, timeoutSeconds=1)})
    llm_env.enqueue_tool_calls([("mcp__fake__fail", {"message": "disk on fire"}, "c1"),
                                ("mcp__fake__wait", {"seconds": 30}, "c2"),
                                ("mcp__fake__echo", {"text": "still here"}, "c3")])
    llm_env.enqueue_text("coped")
    task_id = start_task(daemon)

    assert finished(daemon, task_id)["status"] == "completed"
    failed, slow, echoed = tool_results(llm_env.requests[1])
    assert failed.startswith("error: ") and "disk on fire" in failed
    assert slow == "error: MCP server 'fake' did not answer wait within 1 s"
    assert echoed == "echo: still here"


def test_a_disabled_server_is_not_offered(daemon, llm_env, tmp_path):
    configure(daemon, {"fake": stdio_entry(tmp_path / "calls.jsonl", enabled=False)})
    llm_env.enqueue_text("plain")
    assert finished(daemon, start_task(daemon))["status"] == "completed"
    assert not any(name.startswith("mcp__") for name in tool_names(llm_env.requests[0]))


# ---- streamable HTTP -----------------------------------------------------------------------------

def test_http_tools_are_offered_called_and_survive_a_server_restart(daemon, llm_env, http_server):
    configure(daemon, {"fake": {"type": "http", "url": http_server.url, "headers": {"X-Token": "secret-abcdef"}}})
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "over http"})
    llm_env.enqueue_text("first run")
    first = start_task(daemon)
    assert finished(daemon, first)["status"] == "completed"
    assert FAKE_TOOLS <= tool_names(llm_env.requests[0])
    assert tool_results(llm_env.requests[1]) == ["echo: over http"]

    http_server.kill()  # the session the daemon holds is now stale
    http_server.start()
    llm_env.requests.clear()
    llm_env.enqueue_tool_call("mcp__fake__pid", {})
    llm_env.enqueue_text("second run")
    second = start_task(daemon)
    assert finished(daemon, second)["status"] == "completed"
    assert tool_results(llm_env.requests[1]) == [str(http_server.proc.pid)]


def test_an_http_server_that_is_down_gives_an_error_result(daemon, llm_env, http_server):
    configure(daemon, {"fake": {"type": "http", "url": http_server.url}})
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "up"})
    llm_env.enqueue_text("ok")
    assert finished(daemon, start_task(daemon))["status"] == "completed"

    http_server.kill()
    llm_env.requests.clear()
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "down"})
    llm_env.enqueue_text("noticed")
    task = finished(daemon, start_task(daemon))
    assert task["status"] == "completed" and task["result"] == "noticed"
    assert tool_results(llm_env.requests[1])[0].startswith("error: MCP server 'fake' is unavailable")

"""The `stagent` CLI against a real daemon: run as a subprocess, plus the SSE reader in-process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from stagent.app import create_app
from stagent.cli.client import Client, error_message, parse_sse
from stagent.config import Config
from tests.helpers.http import http_client
from tests.helpers.servers import ThreadedServer, free_port

pytestmark = pytest.mark.serial

REPO = Path(__file__).resolve().parent.parent
NOISE = ("OPENAI_API_KEY", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "OLLAMA_API_BASE")
HANG_TEXT = " ".join(["still going"] * 40)


def cli_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("STAGENT_") and k not in NOISE}


def cli_args(url: str, data_dir, *args) -> list[str]:
    return [sys.executable, "-m", "stagent", "--url", url, "--data-dir", str(data_dir), *args]


def run_cli(daemon, *args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cli_args(daemon.url, daemon.data_dir, *args), capture_output=True, text=True,
                          env=cli_env(), cwd=REPO, timeout=timeout)


def started_task(daemon, title: str = "Say hello") -> dict:
    client = daemon.client
    task = client.post("/api/tasks", json={"title": title}).json()
    assert client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"}).status_code == 200
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    return task


def api_rows(url: str, task_id: str) -> list[dict]:
    """Every log row of a finished task, straight from the API's per-task stream."""
    with httpx.stream("GET", f"{url}/api/tasks/{task_id}/logs", timeout=30) as r:
        return [e.json() for e in parse_sse(r.iter_lines())]


def wait_for_event(url: str, task_id: str, event: str) -> None:
    """Return once the task's log has a line of this kind (the global stream pushes it)."""
    with httpx.stream("GET", f"{url}/api/logs/stream", params={"taskId": task_id}, timeout=30) as r:
        for e in parse_sse(r.iter_lines()):
            if e.json()["event"] == event:
                return


def streamed_text(rows: list[dict]) -> str:
    return "".join(json.loads(r["payload"])["text"] for r in rows if r["event"] == "stream")


# ---- tasks ---------------------------------------------------------------------------------

def test_run_follow_prints_streamed_text_and_exits_zero(daemon, llm_env):
    llm_env.enqueue_text("Hello from the fake model")
    r = run_cli(daemon, "tasks", "run", "hello", "--follow")
    assert r.returncode == 0, r.stderr
    task_id, rest = r.stdout.split("\n", 1)
    assert "Hello from the fake model" in rest
    assert rest.count("Hello from the fake model") == 1  # result equals the streamed answer: not repeated
    assert "queued…" in r.stderr and "running…" in r.stderr and "completed" in r.stderr
    task = daemon.client.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "completed"
    assert task["title"] == "hello" and task["description"] is None
    assert task["result"] == "Hello from the fake model"


def test_run_follow_provider_failure_exits_one_with_the_error(daemon, llm_env):
    llm_env.enqueue_error(400, "the fake rejects this prompt")
    r = run_cli(daemon, "tasks", "run", "hello", "--follow")
    assert r.returncode == 1
    assert "the fake rejects this prompt" in r.stderr
    assert "failed" in r.stderr
    assert "Traceback" not in r.stderr
    task_id = r.stdout.splitlines()[0]
    assert daemon.client.get(f"/api/tasks/{task_id}").json()["status"] == "failed"


def test_run_shows_tool_calls_as_lines(daemon, llm_env):
    llm_env.enqueue_tool_call("list_files", {"path": "."})
    llm_env.enqueue_text("Listed.")
    r = run_cli(daemon, "tasks", "run", "list the files", "--follow")
    assert r.returncode == 0, r.stderr
    assert '→ tool list_files {"path": "."}' in r.stdout
    assert "Listed." in r.stdout


def test_run_long_prompt_becomes_title_and_description(daemon, llm_env):
    prompt = "Summarise this. " + "x" * 300
    r = run_cli(daemon, "tasks", "run", prompt, "--model", "openai/fake")
    assert r.returncode == 0, r.stderr
    task_id = r.stdout.strip()
    task = daemon.wait_for_status(task_id, {"completed", "failed"})
    assert task["title"] == prompt[:200]
    assert task["description"] == prompt
    assert "stagent logs" in r.stderr


def test_run_without_provider_fails_with_how_to_configure(daemon):
    r = run_cli(daemon, "tasks", "run", "hello")
    assert r.returncode == 1
    assert "could not start" in r.stderr and "OPENAI_API_KEY" in r.stderr
    assert "Traceback" not in r.stderr


def test_tasks_list_shows_tasks_and_filters(daemon, llm_env):
    llm_env.enqueue_text("done")
    done = run_cli(daemon, "tasks", "run", "first task", "--follow")
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.splitlines()[0]
    daemon.client.post("/api/tasks", json={"title": "second task"})

    r = run_cli(daemon, "tasks", "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["ID", "STATUS", "PRIORITY", "TITLE"]
    line = next(line for line in r.stdout.splitlines() if line.startswith(task_id[:8]))
    assert "completed" in line and "first task" in line
    assert "second task" in r.stdout

    only = run_cli(daemon, "tasks", "list", "--status", "completed", "--json")
    assert [t["id"] for t in json.loads(only.stdout)] == [task_id]
    assert run_cli(daemon, "tasks", "list", "--project", "no-such-project").stderr.strip() == "No tasks."


# ---- logs ----------------------------------------------------------------------------------

def test_logs_replays_a_finished_task(daemon, llm_env):
    llm_env.enqueue_text("Replay me, please")
    task = started_task(daemon)
    daemon.wait_for_status(task["id"], {"completed"})

    r = run_cli(daemon, "logs", task["id"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Replay me, please") == 1
    assert "task completed" in r.stderr

    rows = [json.loads(line) for line in run_cli(daemon, "logs", task["id"][:8], "--json").stdout.splitlines()]
    assert rows == api_rows(daemon.url, task["id"])
    assert rows[0]["event"] == "started" and rows[-1]["event"] == "completed"


def test_logs_follow_shows_a_running_tasks_text_exactly_once(daemon, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=40)
    task = started_task(daemon)
    r = run_cli(daemon, "logs", task["id"], "--follow")
    assert r.returncode == 0, r.stderr
    assert HANG_TEXT in r.stdout
    assert r.stdout.count("still going") == 40
    assert "task completed" in r.stderr
    assert daemon.client.get(f"/api/tasks/{task['id']}").json()["status"] == "completed"


def test_logs_without_follow_on_a_running_task_prints_what_exists_and_exits(daemon, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.2, chunks=300)  # about a minute of streaming
    task = started_task(daemon)
    wait_for_event(daemon.url, task["id"], "stream")
    try:
        r = run_cli(daemon, "logs", task["id"], timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("still go")
        assert daemon.client.get(f"/api/tasks/{task['id']}").json()["status"] == "running"
    finally:
        daemon.client.post(f"/api/tasks/{task['id']}/cancel")


def test_logs_of_unknown_task_is_a_clear_error(daemon):
    r = run_cli(daemon, "logs", "no-such-task")
    assert r.returncode == 1
    assert "No task with id 'no-such-task'" in r.stderr


def test_logs_follow_survives_a_daemon_restart(tmp_path, llm_env):
    """Stop the daemon mid-run and start it again on the same port: the tail reconnects with
    Last-Event-ID and ends when the (now interrupted) task has ended, with every line once."""
    data_dir, port = tmp_path / "restart", free_port()

    def start():
        return ThreadedServer(create_app(Config(port=port, data_dir=data_dir, warm_llm=False)), port).start()

    server = start()
    url = server.url
    llm_env.enqueue_hang(chunk_delay=0.2, chunks=300)
    with httpx.Client(base_url=url, timeout=30) as api:
        task = api.post("/api/tasks", json={"title": "long"}).json()
        api.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
        assert api.post(f"/api/tasks/{task['id']}/execute").status_code == 202

    proc = subprocess.Popen(cli_args(url, data_dir, "logs", task["id"], "--follow", "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=REPO)
    lines: list[str] = []
    seen_stream = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if '"event":"stream"' in line:
                seen_stream.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with proc:
        try:
            assert seen_stream.wait(30), "no streamed line before the restart"
            server.stop()
            server = start()
            proc.wait(timeout=60)
            reader.join(timeout=10)
            stderr = proc.stderr.read()
            assert proc.returncode == 0, stderr
            assert "reconnecting" in stderr
            rows = [json.loads(line) for line in lines]
            seqs = [row["seq"] for row in rows]
            assert seqs == sorted(set(seqs))  # in order, none twice
            assert httpx.get(f"{url}/api/tasks/{task['id']}").json()["status"] == "failed"
            assert rows == api_rows(url, task["id"])  # none lost
            assert rows[-1]["event"] == "error" and "interrupted" in rows[-1]["payload"]
        finally:
            if proc.poll() is None:
                proc.kill()
            server.stop()


# ---- the SSE reader in-process -------------------------------------------------------------

class DroppingTransport(httpx.BaseTransport):
    """Cuts the first log stream after `limit` bytes (mid-event, like a dropped connection)."""

    def __init__(self, limit: int):
        self.inner = httpx.HTTPTransport()
        self.limit = limit
        self.log_requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/logs"):
            self.log_requests.append(request)
            if len(self.log_requests) == 1:
                response.stream = _Cut(response.stream, self.limit)
        return response

    def close(self) -> None:
        self.inner.close()


class _Cut(httpx.SyncByteStream):
    def __init__(self, stream, limit: int):
        self.stream, self.limit = stream, limit

    def __iter__(self):
        sent = 0
        for chunk in self.stream:
            if sent + len(chunk) >= self.limit:
                yield chunk[:self.limit - sent]
                raise httpx.ReadError("simulated dropped connection")
            sent += len(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()


def test_reader_reconnects_after_a_dropped_connection_without_gaps_or_repeats(daemon, llm_env):
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=40)
    task = started_task(daemon)
    transport = DroppingTransport(limit=1500)
    reconnects: list[tuple[int, Exception | None]] = []
    client = Client(daemon.url, transport=transport)
    try:
        rows = [e.json() for e in client.events(f"/api/tasks/{task['id']}/logs", task_id=task["id"],
                                                 retry_for=30,
                                                 on_reconnect=lambda last, err: reconnects.append((last, err)))]
    finally:
        client.close()
    assert len(reconnects) == 1 and isinstance(reconnects[0][1], httpx.ReadError)
    last_before_drop = reconnects[0][0]
    assert last_before_drop > 0
    assert transport.log_requests[1].headers["last-event-id"] == str(last_before_drop)
    assert rows == api_rows(daemon.url, task["id"])
    assert streamed_text(rows) == HANG_TEXT
    assert rows[-1]["event"] == "completed"


def test_reader_resumes_after_a_given_last_event_id(daemon, llm_env):
    llm_env.enqueue_text("one two three four five six")
    task = started_task(daemon)
    daemon.wait_for_status(task["id"], {"completed"})
    client = Client(daemon.url)
    try:
        path = f"/api/tasks/{task['id']}/logs"
        every = [e for e in client.events(path, task_id=task["id"])]
        ids = [int(e.id) for e in every]
        assert len(ids) > 4
        later = [int(e.id) for e in client.events(path, task_id=task["id"], last_event_id=ids[2])]
    finally:
        client.close()
    assert later == ids[3:]


def test_parse_sse_skips_comments_and_partial_events():
    lines = [": keepalive", "id: 7", 'data: {"a": 1}', "", ": keepalive", "id: 8", "data: x", "data: y", "",
             "id: 9", "data: cut off"]
    events = list(parse_sse(iter(lines)))
    assert [(e.id, e.data) for e in events] == [("7", '{"a": 1}'), ("8", "x\ny")]


def test_error_message_flattens_field_errors():
    body = {"error": {"formErrors": ["Malformed"], "fieldErrors": {"title": ["Required"], "priority": ["Too big"]}}}
    message = error_message(httpx.Response(400, json=body))
    assert message == "Validation failed: Malformed, title: Required, priority: Too big"
    assert error_message(httpx.Response(404, json={"error": "Task not found"})) == "Task not found"


# ---- keys ----------------------------------------------------------------------------------

def test_keys_create_list_revoke_round_trip(daemon):
    r = run_cli(daemon, "keys", "create", "--scopes", "stagent:read,stagent:write", "--name", "ci")
    assert r.returncode == 0, r.stderr
    secret = r.stdout.strip()
    assert secret.startswith("stg_")
    assert "will not be shown again" in r.stderr
    assert httpx.get(f"{daemon.url}/api/tasks", headers={"X-API-Key": secret}).status_code == 200

    listed = run_cli(daemon, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout
    line = next(line for line in listed.stdout.splitlines() if " ci " in f" {line} ")
    assert "active" in line and "stagent:read,stagent:write" in line
    key_id = line.split()[0]

    revoked = run_cli(daemon, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{daemon.url}/api/tasks", headers={"X-API-Key": secret}).status_code == 401
    assert "revoked" in next(line for line in run_cli(daemon, "keys", "list").stdout.splitlines()
                             if line.startswith(key_id))

    with_revoked = run_cli(daemon, "--api-key", secret, "tasks", "list")
    assert with_revoked.returncode == 1
    assert "401" in with_revoked.stderr and "--api-key" in with_revoked.stderr


def test_keys_create_with_unknown_scope_shows_the_field_error(daemon):
    r = run_cli(daemon, "keys", "create", "--scopes", "root")
    assert r.returncode == 1
    assert "Validation failed: scopes: " in r.stderr  # the server's fieldErrors, flattened


def test_keys_without_a_key_file_say_where_the_key_was_looked_for(daemon, tmp_path):
    r = subprocess.run(cli_args(daemon.url, tmp_path / "elsewhere", "keys", "list"), capture_output=True,
                       text=True, env=cli_env(), cwd=REPO, timeout=60)
    assert r.returncode == 1
    assert "401" in r.stderr and str(tmp_path / "elsewhere" / "api-key") in r.stderr


# ---- start-up ------------------------------------------------------------------------------

def test_cli_modules_do_not_import_the_engine_or_litellm():
    code = ("import sys, stagent.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('litellm', 'stagent.engine', 'stagent.app', "
            "'starlette', 'uvicorn'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=REPO,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ---- no daemon -----------------------------------------------------------------------------

def test_daemon_not_running_is_a_clear_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("tasks", "list"), ("logs", "abc", "--follow"), ("keys", "list")):
        r = subprocess.run(cli_args(url, tmp_path, *args), capture_output=True, text=True, env=cli_env(),
                           cwd=REPO, timeout=60)
        assert r.returncode == 1
        assert "Cannot reach the stagent daemon" in r.stderr and "stagent serve" in r.stderr
        assert "Traceback" not in r.stderr


# ---- stagent serve -------------------------------------------------------------------------

def start_serve(tmp_path, port: int, *args) -> subprocess.Popen:
    return subprocess.Popen(cli_args("http://unused", tmp_path / "serve-data", "serve", "--port", str(port), *args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=REPO)


def wait_until_serving(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    with http_client(timeout=1) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            try:
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
    raise AssertionError("stagent serve did not answer")


def stop_serve(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)


def test_serve_on_a_busy_port_fails_before_saying_it_listens(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        proc = start_serve(tmp_path, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "listening" not in out
    assert f"cannot start: port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_serve_closes_connections_that_send_no_request(tmp_path):
    port = free_port()
    proc = start_serve(tmp_path, port, "--idle-timeout", "0.5")
    try:
        wait_until_serving(proc, port)
        for opening in (b"", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"):  # nothing; a head never ended
            with socket.create_connection(("127.0.0.1", port), timeout=30) as idle:
                idle.sendall(opening)
                assert idle.recv(1024) == b""  # closed by the server, well within the 30 s bound
        # A keep-alive connection is served, then closed once it idles.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as kept:
            kept.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while chunk := kept.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer
    finally:
        out, err = stop_serve(proc)
    assert "listening on http://127.0.0.1:" in out
    assert "Traceback" not in err


def test_serve_beyond_loopback_requires_a_key_and_says_so(tmp_path):
    port = free_port()
    proc = start_serve(tmp_path, port, "--host", "0.0.0.0")
    try:
        wait_until_serving(proc, port)
        local = f"http://127.0.0.1:{port}"  # the test talks to loopback only
        assert httpx.get(local + "/api/tasks").status_code == 401
        key = (tmp_path / "serve-data" / "api-key").read_text().strip()
        assert httpx.get(local + "/api/tasks", headers={"X-API-Key": key}).status_code == 200
    finally:
        out, err = stop_serve(proc)
    assert "0.0.0.0 is not a loopback address" in err and "needs an API key" in err

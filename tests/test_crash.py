"""Crash safety: SIGKILL during a streaming run loses nothing a client saw; restarts recover."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.conftest import Daemon
from tests.helpers.processes import assert_stopped_cleanly, daemon_process
from tests.helpers.servers import free_port
from tests.helpers.sse import iter_events, skip_until


def start_long_run(base: str, fake, chunk_delay: float) -> dict:
    """A task executing against a fake model that streams for minutes."""
    fake.enqueue_hang(chunk_delay=chunk_delay, chunks=5000)
    task = httpx.post(f"{base}/api/tasks", json={"title": "long run"}).json()
    httpx.patch(f"{base}/api/tasks/{task['id']}", json={"status": "queued"})
    assert httpx.post(f"{base}/api/tasks/{task['id']}/execute").status_code == 202
    return task


@pytest.mark.serial
def test_sigkill_while_streaming_keeps_every_line_a_client_saw(tmp_path, fake):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake) as proc:
        task = start_long_run(base, fake, chunk_delay=0.01)
        seen = {}
        with httpx.stream("GET", f"{base}/api/tasks/{task['id']}/logs", timeout=60) as r:
            for event in iter_events(r.iter_lines()):
                seen[event.id] = event.data
                if len(seen) >= 150:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=10)

    with sqlite3.connect(data_dir / "stagent.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    with daemon_process(data_dir, port, fake) as proc:
        recovered = httpx.get(f"{base}/api/tasks/{task['id']}").json()
        assert recovered["status"] == "failed" and recovered["result"] == "interrupted"
        with httpx.stream("GET", f"{base}/api/tasks/{task['id']}/logs", timeout=60) as r:
            replay = {e.id: e.data for e in iter_events(r.iter_lines())}  # closes: task is finished
        for event_id, data in seen.items():
            assert replay.get(event_id) == data
        assert '"event":"error"' in list(replay.values())[-1]


def test_graceful_stop_ends_running_tasks_as_interrupted(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    task = first.client.post("/api/tasks", json={"title": "will be interrupted"}).json()
    first.client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    first.client.post(f"/api/tasks/{task['id']}/execute")
    first.wait_for_status(task["id"], {"running"})
    first.stop()

    second = Daemon(data_dir)
    try:
        after = second.client.get(f"/api/tasks/{task['id']}").json()
        assert after["status"] == "failed" and after["result"] == "interrupted"
    finally:
        second.stop()


def test_tasks_left_running_by_a_crash_fail_as_interrupted_on_start(tmp_path):
    data_dir = tmp_path / "data"
    first = Daemon(data_dir)
    task = first.client.post("/api/tasks", json={"title": "orphan"}).json()
    first.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:  # as if the process died mid-run
        conn.execute("UPDATE tasks SET status = 'running' WHERE id = ?", (task["id"],))
    second = Daemon(data_dir)
    try:
        after = second.client.get(f"/api/tasks/{task['id']}").json()
        assert after["status"] == "failed" and after["result"] == "interrupted"
        with httpx.stream("GET", f"{second.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
            events = [e.json() for e in iter_events(r.iter_lines())]
        assert events[-1]["event"] == "error" and "interrupted" in events[-1]["payload"]
    finally:
        second.stop()


@pytest.mark.serial
def test_sigterm_stops_cleanly_and_interrupts_running_tasks(tmp_path, fake):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake) as proc:
        task = start_long_run(base, fake, chunk_delay=0.05)
        with httpx.stream("GET", f"{base}/api/tasks/{task['id']}/logs", timeout=60) as r:
            events = iter_events(r.iter_lines())
            skip_until(events, "stream")
            proc.send_signal(signal.SIGTERM)
            rest = [e.json()["event"] for e in events]  # the daemon ends the stream, not a cut
        assert_stopped_cleanly(proc)
        assert rest[-1] == "error"
    with sqlite3.connect(data_dir / "stagent.db") as conn:
        status, result = conn.execute("SELECT status, result FROM tasks WHERE id = ?", (task["id"],)).fetchone()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (status, result) == ("failed", "interrupted")


def test_a_second_daemon_on_the_same_data_dir_refuses_to_start(tmp_path, daemon):
    with pytest.raises(RuntimeError):
        Daemon(daemon.data_dir)  # its lifespan fails: the first daemon holds the lock
    assert daemon.client.get("/api/health").status_code == 200
    out = subprocess.run([sys.executable, "-m", "stagent", "serve", "--port", str(free_port()),
                          "--data-dir", str(daemon.data_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "Another stagent" in out.stderr and "Traceback" not in out.stderr

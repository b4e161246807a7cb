"""What `stagent serve` writes while it works: its own lines, not LiteLLM's INFO chatter (one
"LiteLLM completion() model=…" line per model call buried the daemon's output; issue 21)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers.processes import daemon_process
from tests.helpers.servers import free_port


@pytest.mark.serial
def test_a_task_run_leaves_no_litellm_info_lines_on_stderr(tmp_path, fake):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake.enqueue_text("A short answer.")
    with daemon_process(tmp_path / "data", port, fake) as proc:
        task = httpx.post(f"{base}/api/tasks", json={"title": "Say something"}).json()
        httpx.patch(f"{base}/api/tasks/{task['id']}", json={"status": "queued"})
        assert httpx.post(f"{base}/api/tasks/{task['id']}/execute").status_code == 202
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/api/tasks/{task['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the task did not complete"
            time.sleep(0.1)
        proc.terminate()
        proc.wait(timeout=30)
        output = proc.stderr.read().decode()
    assert fake.requests, "the run called the model"
    chatter = [line for line in output.splitlines() if "LiteLLM" in line or "completion() model=" in line]
    assert chatter == [], output
    assert "litellm loaded" in output, output  # the daemon's own lines still show

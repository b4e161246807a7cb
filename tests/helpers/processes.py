"""`stagent serve` as a real child process, for tests that kill or signal the daemon."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx

from tests.helpers.http import http_client


def spawn_daemon(data_dir, port, fake, extra_env: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGENT_", "OPENAI_", "ANTHROPIC_"))}
    env.update(OPENAI_API_KEY="sk-crash", OPENAI_API_BASE=fake.base_url, STAGENT_DEFAULT_MODEL="openai/fake")
    env.update(extra_env or {})
    proc = subprocess.Popen([sys.executable, "-m", "stagent", "serve", "--port", str(port),
                             "--data-dir", str(data_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    with http_client(timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.05)
    proc.kill()
    raise AssertionError("daemon did not start: " + proc.stderr.read().decode())


@contextlib.contextmanager
def daemon_process(data_dir, port, fake, extra_env: dict | None = None):
    """The daemon for the block; whatever the block did to it, it is gone afterwards."""
    proc = spawn_daemon(data_dir, port, fake, extra_env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        proc.stderr.close()


def assert_stopped_cleanly(proc: subprocess.Popen) -> None:
    # uvicorn re-raises the signal once shut down, as daemons conventionally exit.
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    log = proc.stderr.read().decode()
    assert "Traceback" not in log and "ERROR" not in log, log

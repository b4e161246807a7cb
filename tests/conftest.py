"""Shared fixtures: a hermetic data dir, the fake provider, the real daemon on real uvicorn."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stagent.app import create_app
from stagent.config import Config
from stagent.engine.agent import llm
from tests.fakes.provider import FakeProvider
from tests.helpers.http import http_client
from tests.helpers.receiver import Receiver
from tests.helpers.servers import ThreadedServer, bound_socket

PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "OLLAMA_API_BASE",
                "STAGENT_DEFAULT_MODEL", "STAGENT_URL", "STAGENT_API_KEY", "STAGENT_PORT")


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path, monkeypatch):
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STAGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(tmp_path / "skills"))  # never the user's ~/.claude/skills
    # Environment scans, checkpoints and syncs read and write ~/.claude, ~/.codex and the project
    # folder: never the user's, never the repository's (a git tag in the work tree)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STAGENT_PROJECT_DIR", str(tmp_path / "project"))
    yield


@pytest.fixture(scope="session")
def provider():
    # The tests that use the fake provider call it through litellm. Importing litellm here, in
    # a fixture's set-up, keeps its seconds (more on a busy machine, once per pytest-xdist worker)
    # out of every test's request timeouts. A thread of its own: a test's event loop may be running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, llm.ensure_loaded()).result()
    fake = FakeProvider()
    fake.server = ThreadedServer(fake.app).start()
    yield fake
    fake.server.stop()


@pytest.fixture
def fake(provider):
    """The session's fake provider with an empty script and request log."""
    provider.script.clear()
    provider.requests.clear()
    yield provider
    provider.script.clear()


class Daemon:
    def __init__(self, data_dir, **config):
        self.data_dir = data_dir
        sock = bound_socket()  # held from here: no other process can take the port meanwhile
        self.port = sock.getsockname()[1]
        try:
            self.config = Config(port=self.port, data_dir=data_dir, warm_llm=False, **config)
            self.app = create_app(self.config)
        except BaseException:
            sock.close()
            raise
        self.server = ThreadedServer(self.app, sock=sock).start()
        self.url = self.server.url
        self.client = http_client(base_url=self.url, timeout=30)

    @property
    def loop(self):
        """The daemon's event loop (to run engine calls on it from a test thread)."""
        return self.app.state.loop

    @property
    def api_key(self) -> str:
        return (self.data_dir / "api-key").read_text().strip()

    def wait_for_status(self, task_id: str, statuses: set[str], timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            task = self.client.get(f"/api/tasks/{task_id}").json()
            if task["status"] in statuses:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task stayed {task['status']}, wanted {statuses}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data")
    yield d
    d.stop()


@pytest.fixture
def client(daemon):
    return daemon.client


@pytest.fixture
def llm_env(fake, monkeypatch):
    """Provider configured through the environment (lowest priority source): the fake, model openai/fake."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    monkeypatch.setenv("OPENAI_API_BASE", fake.base_url)
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/fake")
    return fake


@pytest.fixture(scope="module")
def receiver_server():
    """A loopback stand-in for webhooks, Slack and the Telegram bot API (one per test module)."""
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.reset()
    yield receiver_server
    receiver_server.reset()

"""Workflow test helpers: create and run through the API, wait for states, read what the fake
provider was asked, and a fake that counts the requests it serves at once."""

from __future__ import annotations

import asyncio
import threading

from tests.fakes.provider import FakeProvider
from tests.helpers.scheduling import wait_until
from tests.helpers.servers import ThreadedServer


def create(client, definition: dict, name: str = "Flow", **fields) -> dict:
    r = client.post("/api/workflows", json={"name": name, "definition": definition, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def start(client, definition: dict, **fields) -> str:
    workflow = create(client, definition, **fields)
    r = client.post(f"/api/workflows/{workflow['id']}/execute")
    assert r.status_code == 202, r.text
    return workflow["id"]


def status(client, workflow_id: str) -> dict:
    r = client.get(f"/api/workflows/{workflow_id}/status")
    assert r.status_code == 200, r.text
    return r.json()


def wait_status(client, workflow_id: str, *statuses: str, timeout: float = 30) -> dict:
    return wait_until(lambda: (s := status(client, workflow_id))["status"] in statuses and s,
                      timeout, f"workflow {workflow_id} to be {statuses}")


def step_state(client, workflow_id: str, step_id: str) -> dict:
    return next(s["state"] for s in status(client, workflow_id)["steps"] if s["id"] == step_id)


def wait_step(client, workflow_id: str, step_id: str, *statuses: str, timeout: float = 30) -> dict:
    return wait_until(lambda: (s := step_state(client, workflow_id, step_id))["status"] in statuses and s,
                      timeout, f"step {step_id} to be {statuses}")


def user_prompt(request_body: dict) -> str:
    """The user message a step's task sent (the task's title, a blank line, its prompt)."""
    return next(m["content"] for m in request_body["messages"] if m["role"] == "user")


def prompts(fake) -> list[str]:
    return [user_prompt(body) for body in list(fake.requests)]


def on_loop(daemon, coro, timeout: float = 30):
    """Run an engine coroutine on the daemon's event loop from the test thread."""
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(timeout)


class CountingProvider(FakeProvider):
    """The fake provider, counting how many requests it is serving at the same time. A held
    reply (`enqueue_held`) stays in flight until the test releases it, so a concurrency limit
    is observed without relying on timing."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()

    async def _chat(self, request):
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await super()._chat(request)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def enqueue_held(self, text: str, count: int) -> list[threading.Event]:
        """`count` replies, each held until its gate is set; the n-th request to arrive gets
        the n-th gate."""
        gates = [threading.Event() for _ in range(count)]
        for gate in gates:
            self.enqueue_text(text, gate=gate)
        return gates

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self.in_flight = self.max_in_flight = 0

    def start(self) -> CountingProvider:
        self.server = ThreadedServer(self.app).start()
        return self

"""Per-workspace rate limits of the Lars API: the documented 60/min chat and 30/min actions
(execute), the buckets of their own for reading actions and for clients, the headers on every
counted response, 429 with Retry-After, exact counting under concurrency, monotonic windows."""

from __future__ import annotations

import concurrent.futures

import pytest

from stagent.engine.governance.rate_limit import RateLimiter
from tests.api.test_clients import data_of, error_of, lars_client, new_project
from tests.api.test_lars import ACTIONS, CHAT, TASK, execute, suggest


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def frozen(daemon, clock: Clock | None = None) -> Clock:
    """Both of the limiter's clocks on one clock the test moves: every request falls in one
    window however slow the machine."""
    clock = clock or Clock()
    limiter = daemon.app.state.lars.rate_limits
    limiter.clock = limiter.wall_clock = clock
    return clock


def test_the_61st_chat_request_in_a_minute_is_429_and_the_window_slides(daemon, lars, fake):
    clock = frozen(daemon)
    for i in range(60):
        response = lars.post(CHAT, json={})  # a validation error counts like any request
        assert response.status_code == 400
        assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == (
            "60", str(59 - i))
        assert response.headers["X-RateLimit-Reset"] == "1700000060"  # when the oldest request leaves
        clock.now += 0.5
    limited = lars.post(CHAT, json={"content": "hi"})
    message = error_of(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert "60" in message and limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "30"  # the oldest request leaves the window at +60 s
    assert fake.requests == []

    with lars_client(daemon, new_project(daemon)) as other:  # another workspace has its own window
        assert other.post(CHAT, json={}).headers["X-RateLimit-Remaining"] == "59"
    assert execute(lars, "x").headers["X-RateLimit-Remaining"] == "29"  # and actions their own bucket

    clock.now = 1_700_000_000.0 + 60.01  # the first request left the window: one slot
    fake.enqueue_text("Back.")
    response = lars.post(CHAT, json={"content": "hi"})
    assert data_of(response)["content"] == "Back." and response.headers["X-RateLimit-Remaining"] == "0"
    error_of(lars.post(CHAT, json={"content": "hi"}), 429, "RATE_LIMIT_EXCEEDED")


def test_the_31st_execute_request_is_429(daemon, lars):
    frozen(daemon)
    for _ in range(30):
        error_of(execute(lars, "nope", autoApprove=True), 404, "ACTION_NOT_FOUND")
    limited = execute(lars, "nope", autoApprove=True)
    error_of(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert limited.headers["X-RateLimit-Limit"] == "30" and int(limited.headers["Retry-After"]) >= 1


def test_reading_actions_and_answering_approvals_do_not_spend_the_execute_budget(daemon, lars, fake):
    frozen(daemon)
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    for i in range(40):  # more than the execute limit
        read = lars.get(f"{ACTIONS}/{action['id']}")
        assert data_of(read)["status"] == "SUGGESTED"
        assert (read.headers["X-RateLimit-Limit"], read.headers["X-RateLimit-Remaining"]) == ("120", str(119 - 2 * i))
        assert lars.get(ACTIONS).headers["X-RateLimit-Remaining"] == str(118 - 2 * i)
    pending = execute(lars, action["id"])
    assert data_of(pending)["status"] == "PENDING_APPROVAL" and pending.headers["X-RateLimit-Remaining"] == "29"
    answered = lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "deny"})
    assert data_of(answered)["status"] == "REJECTED" and answered.headers["X-RateLimit-Remaining"] == "39"
    assert execute(lars, "nope").headers["X-RateLimit-Remaining"] == "28"


def test_the_121st_read_is_429(daemon, lars):
    frozen(daemon)
    for _ in range(120):
        error_of(lars.get(f"{ACTIONS}/nope"), 404, "ACTION_NOT_FOUND")
    limited = lars.get(ACTIONS)
    assert "120 action-status requests" in error_of(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert execute(lars, "nope").headers["X-RateLimit-Remaining"] == "29"


def test_exactly_60_of_70_concurrent_chat_requests_are_admitted(daemon, lars, fake):
    frozen(daemon)

    def ask(_):
        with lars_client(daemon) as client:
            return client.post(CHAT, json={"content": "hi"})

    with concurrent.futures.ThreadPoolExecutor(70) as pool:
        responses = list(pool.map(ask, range(70)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 60 + [429] * 10, [r.text for r in responses if r.status_code not in (200, 429)]
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200)
    assert remaining == list(range(60))
    assert len({data_of(r)["conversationId"] for r in responses if r.status_code == 200}) == 60


def test_windows_follow_the_monotonic_clock_and_reset_the_wall_clock():
    monotonic, wall = Clock(500.0), Clock(1_700_000_000.0)
    limiter = RateLimiter({"chat": 2}, clock=monotonic, wall_clock=wall)
    assert limiter.hit("w", "chat").reset == 1_700_000_060
    monotonic.now += 10
    wall.now -= 3600  # the wall clock is set back an hour: the window does not care
    second = limiter.hit("w", "chat")
    assert (second.allowed, second.remaining, second.reset) == (True, 0, 1_700_000_000 - 3600 + 50)
    wall.now += 86_400  # nor when it jumps a day ahead
    refused = limiter.hit("w", "chat")
    assert (refused.allowed, refused.retry_after) == (False, 50)
    monotonic.now += 50
    assert limiter.hit("w", "chat").allowed

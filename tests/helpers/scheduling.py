"""Drive a daemon's scheduler with a ManualClock from a test thread."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from tests.conftest import Daemon
from tests.helpers.clock import ManualClock


def start_scheduler(daemon: Daemon, now: datetime) -> ManualClock:
    """Give the daemon's scheduler a hand-moved clock and start it (the daemon was built with
    scheduler=False, so no pass ran on the real clock)."""
    clock = ManualClock(now)

    async def install():
        daemon.app.state.scheduler.set_clock(clock)
        daemon.app.state.scheduler.start()

    asyncio.run_coroutine_threadsafe(install(), daemon.loop).result(10)
    return clock


def scheduled_daemon(data_dir, now: datetime) -> tuple[Daemon, ManualClock]:
    daemon = Daemon(data_dir, scheduler=False)
    return daemon, start_scheduler(daemon, now)


def wait_until(check, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def schedule_tasks(client, schedule_id: str) -> list[dict]:
    return [t for t in client.get("/api/tasks").json() if t["scheduleId"] == schedule_id]


def history(client, schedule_id: str) -> list[dict]:
    return client.get(f"/api/schedules/{schedule_id}").json()["firingHistory"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

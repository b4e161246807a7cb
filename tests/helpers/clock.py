"""A clock the test moves by hand, for the daemon's scheduler (no sleeping for minutes)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta


class ManualClock:
    def __init__(self, now: datetime):
        self._now = now
        self._lock = threading.Lock()
        self._pending = True  # a move the scheduler has not seen yet
        self._entered = 0     # calls of wait(): the scheduler finished a pass before each
        self._consumed = 0    # the wait() call that saw the last move
        self._passed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._moved: asyncio.Event | None = None

    def now(self) -> datetime:
        with self._lock:
            return self._now

    async def wait(self, seconds: float | None, wake: asyncio.Event) -> None:
        """Return when the scheduler is woken or the test moves the clock; real time never passes."""
        if self._moved is None:
            self._loop, self._moved = asyncio.get_running_loop(), asyncio.Event()
        with self._lock:
            self._entered += 1
            self._passed.notify_all()
            if self._pending or seconds == 0:
                if self._pending:
                    self._pending, self._consumed = False, self._entered
                return
        waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self._moved.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._moved.clear()
            with self._lock:
                if self._pending:
                    self._pending, self._consumed = False, self._entered

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now
            self._pending = True
            loop, moved = self._loop, self._moved
        if loop is not None:
            loop.call_soon_threadsafe(moved.set)

    def advance(self, **delta) -> None:
        self.set(self.now() + timedelta(**delta))

    def settle(self, timeout: float = 20) -> None:
        """Return once the scheduler has run a whole pass at the clock's current time, so a test
        can assert that nothing fired."""
        with self._passed:
            if not self._passed.wait_for(lambda: not self._pending and self._entered > self._consumed, timeout):
                raise AssertionError("the scheduler did not run a pass after the clock moved")

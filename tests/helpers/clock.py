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
            if self._pending or seconds == 0:
                self._pending = False
                return
        waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self._moved.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._moved.clear()
            with self._lock:
                self._pending = False

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now
            self._pending = True
            loop, moved = self._loop, self._moved
        if loop is not None:
            loop.call_soon_threadsafe(moved.set)

    def advance(self, **delta) -> None:
        self.set(self.now() + timedelta(**delta))

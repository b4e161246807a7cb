"""Named background tasks (`task-run:<id>`, `logbus-flusher`, ...) that can be cancelled by name.

Invariant: every long-lived coroutine the daemon starts is owned here, so shutdown can cancel
and await all of them, and no task is garbage-collected while running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("stagent.supervisor")


class Supervisor:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}

    def start(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        if name in self._tasks and not self._tasks[name].done():
            coro.close()
            raise RuntimeError(f"{name} is already running")
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(lambda t: self._done(name, t))
        return task

    def _done(self, name: str, task: asyncio.Task) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", name, exc_info=task.exception())

    def running(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is not None and not task.done()

    def names(self, prefix: str = "") -> list[str]:
        return [n for n, t in self._tasks.items() if n.startswith(prefix) and not t.done()]

    async def cancel(self, name: str, timeout: float = 5.0) -> bool:
        task = self._tasks.get(name)
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        return True

    async def shutdown(self, timeout: float = 5.0) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

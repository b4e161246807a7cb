"""Agent log lines: monotonic ids, batched commits, fan-out, replay after Last-Event-ID.

Invariant: a line is published to subscribers only after the transaction that wrote it has
committed, so anything a client has seen survives a crash. Lines get their `seq` (the SSE id)
from SQLite's AUTOINCREMENT, which never reuses a value.

Appending never waits for the disk: lines collect in a buffer and one flusher task commits
whatever has collected in a single transaction, so batches grow with the write rate.
`transact(fn)` runs a state change in that same ordered transaction, so a status change and the
line that announces it (`completed`, `error`, `cancelled`) are committed together.
Subscribers read recent lines from an in-memory ring and older ones from the database.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..db import Database
from ..db.rows import new_id, now_iso
from ..store import logs as store

log = logging.getLogger("stagent.logbus")

REPLAY_PAGE = 500


def _payload_text(payload: Any) -> str:
    if payload is None:
        return "{}"
    return payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))


def _line(task_id: str | None, agent_type: str, event: str, payload: Any = None) -> tuple:
    return (new_id(), task_id, agent_type, event, _payload_text(payload), now_iso())


class LogBus:
    def __init__(self, db: Database, ring_size: int = 20_000):
        self.db = db
        self._pending: list[tuple | Job] = []
        self._pending_event = asyncio.Event()
        self._appended = 0
        self._committed = 0
        self._flush_waiters: list[tuple[int, asyncio.Future]] = []
        self._ring: deque[dict] = deque()
        self._ring_size = ring_size
        self._floor = 0  # every committed line with seq > floor is in the ring
        self.last_seq = 0
        self._subscribers: set[LogSubscription] = set()
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        self.last_seq = await store.last_seq(self.db)
        self._floor = self.last_seq
        self._task = asyncio.create_task(self._flush_loop(), name="logbus-flusher")

    async def stop(self) -> None:
        await self.flush()
        self._stopping = True
        self._pending_event.set()
        if self._task:
            await self._task
        self.close_subscribers()

    def close_subscribers(self, task_id: str | None = None) -> None:
        """End every subscription (shutdown), or those following one task (it was deleted):
        waiting readers get what is left, then an empty batch, and stop."""
        for sub in list(self._subscribers):
            if task_id is None or sub.task_id == task_id:
                sub.close()

    def append(self, task_id: str | None, agent_type: str, event: str, payload: Any = None) -> None:
        self._enqueue(_line(task_id, agent_type, event, payload))

    async def transact(self, fn: Callable[[sqlite3.Connection, Callable[..., None]], Any]) -> Any:
        """Run fn(conn, emit) in the flusher's transaction, after every line appended so far.

        Lines passed to emit(task_id, agent_type, event, payload) commit atomically with fn's
        writes. Returns fn's result once committed and published; fn's exception is re-raised
        (its writes and lines are rolled back, nothing else is).
        """
        job = Job(fn, asyncio.get_running_loop().create_future())
        self._enqueue(job)
        return await job.future

    def submit(self, fn: Callable[[sqlite3.Connection, Callable[..., None]], Any]) -> None:
        """transact() without waiting: fn commits with the next batch, in order with the lines
        appended around it. A failure is logged (nobody waits for it)."""
        job = Job(fn, asyncio.get_running_loop().create_future())
        job.future.add_done_callback(_log_failure)
        self._enqueue(job)

    def _enqueue(self, item: tuple | Job) -> None:
        """Queue a line or a job for the flusher's next batch."""
        self._pending.append(item)
        self._appended += 1
        self._pending_event.set()

    async def flush(self) -> None:
        """Return once every line appended before this call is committed."""
        target = self._appended
        if self._committed >= target:
            return
        future = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((target, future))
        await future

    async def _flush_loop(self) -> None:
        backoff = 0.05
        while True:
            await self._pending_event.wait()
            self._pending_event.clear()
            if not self._pending:
                if self._stopping:
                    return
                continue
            batch = self._pending
            self._pending = []
            try:
                rows = await self.db.write(functools.partial(_write_batch, batch=batch))
            except Exception:
                # Keep the lines and try again: an acknowledged line is never dropped.
                log.exception("writing %d log lines failed; retrying", len(batch))
                self._pending = batch + self._pending
                self._pending_event.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self._publish(rows, len(batch), [item for item in batch if isinstance(item, Job)])

    def _publish(self, rows: list[dict], count: int, jobs: list[Job] = ()) -> None:
        self._committed += count
        if rows:
            self.last_seq = rows[-1]["seq"]
        self._ring.extend(rows)
        while len(self._ring) > self._ring_size:
            self._floor = self._ring.popleft()["seq"]
        waiters, self._flush_waiters = self._flush_waiters, []
        for target, future in waiters:
            if self._committed >= target:
                if not future.done():
                    future.set_result(None)
            else:
                self._flush_waiters.append((target, future))
        for sub in self._subscribers:
            sub.wake.set()
        for job in jobs:
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    def subscribe(self, after: int = 0, task_id: str | None = None,
                  event: str | None = None) -> LogSubscription:
        return LogSubscription(self, after, task_id, event)

    def _from_ring(self, after: int, task_id: str | None, event: str | None) -> list[dict]:
        out = []
        for row in reversed(self._ring):
            if row["seq"] <= after:
                break
            if (task_id is None or row["taskId"] == task_id) and (event is None or row["event"] == event):
                out.append(row)
        out.reverse()
        return out

    async def _from_db(self, after: int, task_id: str | None, event: str | None) -> list[dict]:
        return await store.lines_after(self.db, after, task_id=task_id, event=event, limit=REPLAY_PAGE)


class LogSubscription:
    """Yields batches of committed lines with seq > cursor, matching the filters, forever."""

    def __init__(self, bus: LogBus, after: int, task_id: str | None, event: str | None):
        self.bus = bus
        self.cursor = after
        self.task_id = task_id
        self.event = event
        self.wake = asyncio.Event()
        self.closed = False
        bus._subscribers.add(self)

    async def next_batch(self) -> list[dict]:
        """The next lines; an empty list only once the subscription is closed and drained."""
        while True:
            rows = await self.poll()
            if rows or self.closed:
                return rows
            await self.wake.wait()

    async def poll(self) -> list[dict]:
        """Lines available now (possibly none); never waits for new ones."""
        self.wake.clear()
        bus = self.bus
        if self.cursor >= bus._floor:
            rows = bus._from_ring(self.cursor, self.task_id, self.event)
            horizon = bus.last_seq
        else:
            horizon = bus.last_seq  # everything up to here was committed before the read
            rows = await bus._from_db(self.cursor, self.task_id, self.event)
            if len(rows) == REPLAY_PAGE:
                horizon = rows[-1]["seq"]
                self.wake.set()  # more history to page through
        if rows:
            self.cursor = rows[-1]["seq"]
        else:
            self.cursor = max(self.cursor, horizon)
        return rows

    async def read_committed(self) -> list[dict]:
        """Up to a page of lines after the cursor straight from the database, published or not."""
        rows = await self.bus._from_db(self.cursor, self.task_id, self.event)
        if rows:
            self.cursor = rows[-1]["seq"]
        return rows

    def close(self) -> None:
        self.closed = True
        self.bus._subscribers.discard(self)
        self.wake.set()


@dataclass
class Job:
    fn: Callable
    future: asyncio.Future
    result: Any = None
    error: BaseException | None = None


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a submitted log-bus write failed: %s", future.exception())


def _insert_line(conn, line: tuple, rows: list[dict]) -> None:
    stored = store.insert_line_in(conn, line)
    if stored is not None:
        rows.append(stored)


def _write_batch(conn, *, batch: list) -> list[dict]:
    rows: list[dict] = []
    for item in batch:
        if not isinstance(item, Job):
            _insert_line(conn, item, rows)
            continue
        mark = len(rows)
        item.error = None
        try:
            with store.savepoint_in(conn):
                item.result = item.fn(conn, lambda *line: _insert_line(conn, _line(*line), rows))
        except Exception as exc:  # the job fails alone; the batch's other lines still commit
            del rows[mark:]
            item.error = exc
    return rows

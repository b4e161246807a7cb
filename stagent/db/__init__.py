"""The database: one serialised writer and a few read-only readers over one SQLite file.

Invariant: every write runs as one function inside one `BEGIN IMMEDIATE` transaction on the
writer connection, and returns only after COMMIT. Readers never write.

aiosqlite's public API costs one thread hop per statement; we run each whole transaction
as a single function in the connection's own worker thread, so a request pays one hop
however many statements it needs.

A read is cheaper still: when the event loop's thread is free to hop to another core, a hop
costs more than a point read by primary key (microseconds). So a read runs first on the loop's
own thread, on a plain read-only connection (a WAL reader never waits for the writer), under a
budget of CPU time: a read that overruns it is interrupted and run again on a reader thread,
and its call site keeps going to the reader threads (re-tried on the loop now and then). Long
reads (listings, scans) thus stay off the loop and short ones never pay a hop.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

# A read on the loop's thread may use this much of the thread's CPU time; past it the read moves
# to a reader thread. CPU time, not wall time: a read the kernel preempts is not a long read.
INLINE_READ_BUDGET_S = 0.001
# How often (in SQLite VM steps) an inline read checks its budget.
BUDGET_CHECK_STEPS = 1000
# A call site that overran the budget is tried on the loop again after this many threaded reads.
THREADED_READS_BEFORE_RETRY = 100
MAX_THREADED_SITES = 1024
# The connection itself fails a read instead of waiting: a busy WAL reader is rare and goes to a thread.
_DEFER_ERRORS = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_PROTOCOL}
_DEFERRED = object()

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
BUSY_TIMEOUT_MS = 5000
REOPEN_WAIT_S = 120.0  # the longest a call waits for a database being swapped (a restore)


def _connect(path: Path, readonly: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        if readonly and "journal_mode" in pragma:
            continue
        conn.execute(pragma)
    conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return conn


def _connector(path: Path, readonly: bool) -> Callable[[], sqlite3.Connection]:
    return lambda: _connect(path, readonly)


def _call_site(fn: Callable) -> Hashable:
    """The code a read function comes from: every lambda made at one call site shares its code object."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__code__", fn)


class Database:
    def __init__(self, path: Path, readers: int = 3):
        self.path = path
        self._reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.cycle(range(readers))
        # Writes are already serialised by the writer's single thread; the lock keeps a
        # caller's "read-your-write then publish" sequences from interleaving.
        self._write_lock = asyncio.Lock()
        self._inline: sqlite3.Connection | None = None
        self._inline_thread: int | None = None
        self._inline_deadline = (0.0, 0.0)  # (wall, CPU) of the read in progress
        # Call sites whose reads overran the budget: site -> threaded reads left before a retry inline.
        self._threaded_sites: dict[Hashable, int] = {}
        # Set while closed for a reopen (a snapshot restore swapping the file): calls wait for it.
        self._reopened: asyncio.Event | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.Connection(_connector(self.path, False), 64)
        for _ in range(self._reader_count):
            reader = await aiosqlite.Connection(_connector(self.path, True), 64)
            self._readers.append(reader)
        # No busy wait on the loop's thread: a busy read fails at once and is retried on a reader's.
        self._inline = _connect(self.path, readonly=True, busy_timeout_ms=0)
        self._inline.set_progress_handler(self._inline_overran, BUDGET_CHECK_STEPS)
        self._inline_thread = threading.get_ident()
        reopened, self._reopened = self._reopened, None
        if reopened is not None:
            reopened.set()

    async def close(self, *, reopening: bool = False) -> None:
        """Close every connection. With `reopening`, reads and writes made meanwhile wait for
        the next open() instead of failing (the file is being swapped under them)."""
        if reopening and self._reopened is None:
            self._reopened = asyncio.Event()
        conns = [c for c in [*self._readers, self._writer] if c is not None]
        self._readers, self._writer = [], None
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        for conn in conns:
            try:
                await conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    async def _until_open(self) -> None:
        if self._reopened is not None:
            await asyncio.wait_for(self._reopened.wait(), REOPEN_WAIT_S)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) in one IMMEDIATE transaction on the writer; return after COMMIT."""
        if self._writer is None:
            await self._until_open()
        assert self._writer is not None, "database is not open"

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._writer._execute(run, self._writer._conn)

    async def write_raw(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) on the writer without a wrapping transaction (migrations, VACUUM)."""
        if self._writer is None:
            await self._until_open()
        assert self._writer is not None, "database is not open"
        return await self._writer._execute(fn, self._writer._conn)

    async def read(self, fn: Callable[[sqlite3.Connection], T], *, site: Hashable | None = None) -> T:
        """fn(conn) on a read-only connection: on the loop's thread if it is quick, else on a reader's."""
        if not self._readers:
            await self._until_open()
        site = _call_site(fn) if site is None else site
        if self._may_read_inline(site):
            result = self._read_inline(fn, site)
            if result is not _DEFERRED:
                await asyncio.sleep(0)  # still a suspension point, as a read in a thread is
                return result
        reader = self._readers[next(self._next_reader)]
        return await reader._execute(fn, reader._conn)

    def _may_read_inline(self, site: Hashable) -> bool:
        if self._inline is None or threading.get_ident() != self._inline_thread:
            return False
        left = self._threaded_sites.get(site)
        if left is None:
            return True
        if left > 0:
            self._threaded_sites[site] = left - 1
            return False
        return True

    def _read_inline(self, fn: Callable[[sqlite3.Connection], T], site: Hashable) -> T | object:
        # The wall clock is read first (a vDSO call, no syscall, unlike the thread's CPU clock):
        # CPU time can only have overrun the budget once wall time has.
        wall_started, started = time.perf_counter(), time.thread_time()
        self._inline_deadline = (wall_started + INLINE_READ_BUDGET_S, started + INLINE_READ_BUDGET_S)
        try:
            result = fn(self._inline)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _DEFER_ERRORS:
                raise
            self._send_to_threads(site)
            return _DEFERRED
        if (time.perf_counter() - wall_started > INLINE_READ_BUDGET_S  # Python work after the last step
                and time.thread_time() - started > INLINE_READ_BUDGET_S):
            self._send_to_threads(site)
        else:
            self._threaded_sites.pop(site, None)
        return result

    def _inline_overran(self) -> bool:
        """SQLite's progress handler: True interrupts the inline read."""
        wall_deadline, cpu_deadline = self._inline_deadline
        return time.perf_counter() > wall_deadline and time.thread_time() > cpu_deadline

    def _send_to_threads(self, site: Hashable) -> None:
        if len(self._threaded_sites) >= MAX_THREADED_SITES:
            self._threaded_sites.clear()
        self._threaded_sites[site] = THREADED_READS_BEFORE_RETRY

    async def fetchone(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        return await self.read(lambda c: c.execute(sql, params).fetchone(), site=sql)

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        return await self.read(lambda c: c.execute(sql, params).fetchall(), site=sql)

    async def execute(self, sql: str, params: tuple | list = ()) -> int:
        """One write statement in its own transaction; returns the changed row count."""
        return await self.write(lambda c: c.execute(sql, params).rowcount)

    async def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

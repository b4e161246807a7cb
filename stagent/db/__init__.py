"""The database: one serialised writer and a few read-only readers over one SQLite file.

Invariant: every write runs as one function inside one `BEGIN IMMEDIATE` transaction on the
writer connection, and returns only after COMMIT. Readers never write.

aiosqlite's public API costs one thread hop per statement; we run each whole transaction
(or read) as a single function in the connection's own worker thread, so a request pays
one hop however many statements it needs.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def _connector(path: Path, readonly: bool) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                   isolation_level=None)
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in PRAGMAS:
            if readonly and "journal_mode" in pragma:
                continue
            conn.execute(pragma)
        return conn

    return connect


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

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.Connection(_connector(self.path, False), 64)
        for _ in range(self._reader_count):
            reader = await aiosqlite.Connection(_connector(self.path, True), 64)
            self._readers.append(reader)

    async def close(self) -> None:
        conns = [c for c in [*self._readers, self._writer] if c is not None]
        self._readers, self._writer = [], None
        for conn in conns:
            try:
                await conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) in one IMMEDIATE transaction on the writer; return after COMMIT."""
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
        assert self._writer is not None, "database is not open"
        return await self._writer._execute(fn, self._writer._conn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        reader = self._readers[next(self._next_reader)]
        return await reader._execute(fn, reader._conn)

    async def fetchone(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        return await self.read(lambda c: c.execute(sql, params).fetchone())

    async def fetchall(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        return await self.read(lambda c: c.execute(sql, params).fetchall())

    async def execute(self, sql: str, params: tuple | list = ()) -> int:
        """One write statement in its own transaction; returns the changed row count."""
        return await self.write(lambda c: c.execute(sql, params).rowcount)

    async def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

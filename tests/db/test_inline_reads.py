"""Reads run on the event loop's thread when they are short, on a reader thread when they are long."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from stagent.db import Database

# Counts to 100,000: a hundred times the inline budget even on a fast machine.
LONG_READ = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
             "SELECT COUNT(*) FROM n")


def run_with_db(tmp_path, body):
    async def main():
        db = Database(tmp_path / "stagent.db")
        await db.open()
        try:
            await db.write(lambda c: c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
            return await body(db)
        finally:
            await db.close()

    return asyncio.run(main())


def which_thread(conn) -> int:
    conn.execute("SELECT 1").fetchone()
    return threading.get_ident()


def test_a_short_read_runs_on_the_loops_thread_and_sees_the_last_commit(tmp_path):
    async def body(db):
        await db.write(lambda c: c.execute("INSERT INTO items VALUES (1, 'first')"))
        name = await db.scalar("SELECT name FROM items WHERE id = ?", (1,))
        return name, await db.read(which_thread), threading.get_ident()

    name, read_on, loop_thread = run_with_db(tmp_path, body)
    assert name == "first"
    assert read_on == loop_thread


def test_a_long_read_finishes_on_a_reader_thread_and_its_call_site_stays_there(tmp_path):
    def count_and_thread(conn):
        return conn.execute(LONG_READ).fetchone()[0], threading.get_ident()

    async def body(db):
        first = await db.read(count_and_thread)
        second = await db.read(count_and_thread)
        short = await db.read(which_thread)
        return first, second, short, threading.get_ident()

    first, second, short, loop_thread = run_with_db(tmp_path, body)
    assert first[0] == second[0] == 100_000
    assert first[1] != loop_thread and second[1] != loop_thread
    assert short == loop_thread  # other call sites are not affected


def test_a_read_from_another_thread_uses_a_reader_thread(tmp_path):
    async def body(db):
        loop_thread = threading.get_ident()
        other = await asyncio.to_thread(asyncio.run, db.read(which_thread))
        return other, loop_thread

    other, loop_thread = run_with_db(tmp_path, body)
    assert other != loop_thread


def test_a_read_still_lets_other_tasks_run(tmp_path):
    """`await db.read(...)` stays a suspension point, as it was when every read hopped to a thread."""
    async def body(db):
        ran = []

        async def other():
            ran.append(True)

        task = asyncio.get_running_loop().create_task(other())
        await db.fetchone("SELECT 1")
        seen = bool(ran)
        await task
        return seen

    assert run_with_db(tmp_path, body) is True


def test_errors_of_a_read_on_the_loop_are_raised_as_before(tmp_path):
    async def body(db):
        with pytest.raises(sqlite3.OperationalError, match="no such table: no_such_table"):
            await db.fetchall("SELECT * FROM no_such_table")

    run_with_db(tmp_path, body)

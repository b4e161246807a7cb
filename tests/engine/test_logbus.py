"""LogBus on a real SQLite file: commit-before-publish, replay paging, dropped orphans."""

from __future__ import annotations

import asyncio
import json

from stagent.db import Database
from stagent.db.migrations import migrate
from stagent.engine.logbus import REPLAY_PAGE, LogBus


async def open_bus(path, ring_size=20_000):
    db = Database(path)
    await db.open()
    await db.write_raw(migrate)
    await db.execute("INSERT INTO tasks (id, title, created_at, updated_at) VALUES ('t1', 't', 'x', 'x')")
    bus = LogBus(db, ring_size=ring_size)
    await bus.start()
    return db, bus


async def drain(sub, count):
    rows = []
    while len(rows) < count:
        rows += await asyncio.wait_for(sub.next_batch(), 5)
    return rows


def test_replay_pages_through_history_older_than_the_ring(tmp_path):
    async def scenario():
        db, bus = await open_bus(tmp_path / "a.db", ring_size=100)
        total = REPLAY_PAGE * 2 + 137
        for i in range(total):
            bus.append("t1", "agent", "stream", {"n": i})
        await bus.flush()
        sub = bus.subscribe(after=0, task_id="t1")
        rows = await drain(sub, total)
        assert [json.loads(r["payload"])["n"] for r in rows] == list(range(total))
        bus.append("t1", "agent", "stream", {"n": total})
        await bus.flush()
        live = await drain(sub, 1)
        assert json.loads(live[0]["payload"])["n"] == total
        await bus.stop()
        await db.close()

    asyncio.run(scenario())


def test_lines_are_visible_to_subscribers_only_after_commit(tmp_path):
    async def scenario():
        db, bus = await open_bus(tmp_path / "b.db")
        sub = bus.subscribe(after=0)
        bus.append("t1", "agent", "stream", {"n": 1})
        rows = await drain(sub, 1)
        stored = await db.fetchone("SELECT seq, payload FROM agent_logs WHERE seq = ?", (rows[0]["seq"],))
        assert stored is not None and stored["payload"] == rows[0]["payload"]
        await bus.stop()
        await db.close()

    asyncio.run(scenario())


def test_lines_of_a_deleted_task_are_dropped_without_blocking_others(tmp_path):
    async def scenario():
        db, bus = await open_bus(tmp_path / "c.db")
        bus.append("gone", "agent", "stream", {"n": 0})
        bus.append("t1", "agent", "stream", {"n": 1})
        bus.append(None, "workflow-engine", "workflow_started", {})
        await bus.flush()
        rows = await db.fetchall("SELECT task_id, event FROM agent_logs ORDER BY seq")
        assert [(r["task_id"], r["event"]) for r in rows] == [("t1", "stream"), (None, "workflow_started")]
        await bus.stop()
        await db.close()

    asyncio.run(scenario())


def test_ids_continue_after_restart(tmp_path):
    async def scenario():
        db, bus = await open_bus(tmp_path / "d.db")
        bus.append("t1", "agent", "stream", {})
        await bus.flush()
        first = bus.last_seq
        await bus.stop()
        await db.execute("DELETE FROM agent_logs")
        bus2 = LogBus(db)
        await bus2.start()
        bus2.append("t1", "agent", "stream", {})
        await bus2.flush()
        assert bus2.last_seq > first  # AUTOINCREMENT never reuses an id, even after deletes
        await bus2.stop()
        await db.close()

    asyncio.run(scenario())


def test_transact_commits_a_state_change_with_its_lines_or_neither(tmp_path):
    async def scenario():
        db, bus = await open_bus(tmp_path / "e.db")
        bus.append("t1", "agent", "stream", {"n": 1})

        def finish(conn, emit):
            conn.execute("UPDATE tasks SET status = 'completed' WHERE id = 't1'")
            emit("t1", "agent", "completed", {"ok": True})
            return "done"

        def broken(conn, emit):
            conn.execute("UPDATE tasks SET title = 'changed' WHERE id = 't1'")
            emit("t1", "agent", "error", {})
            raise ValueError("no")

        assert await bus.transact(finish) == "done"
        bus.append("t1", "agent", "stream", {"n": 2})
        try:
            await bus.transact(broken)
        except ValueError:
            pass
        else:
            raise AssertionError("the job's error must reach the caller")
        await bus.flush()
        events = [r["event"] for r in await db.fetchall("SELECT event FROM agent_logs ORDER BY seq")]
        assert events == ["stream", "completed", "stream"]
        row = await db.fetchone("SELECT status, title FROM tasks WHERE id = 't1'")
        assert (row["status"], row["title"]) == ("completed", "t")
        await bus.stop()
        await db.close()

    asyncio.run(scenario())

"""2a. Log ingestion: one task's lines committed to SQLite by the real LogBus + Database, streamed and in
a burst, against raw sqlite3 with the same schema and INSERT."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from pathlib import Path

from .common import SERVER_CORE, TEXT_CHUNK, last_json_line, run_event_loop, tail
from .processes import helper_cmd
from .session import BenchSession

# ---------------------------------------------------------------------------------------------
# helper role `_ingest N WORKDIR`: log ingestion in-process with the real Database + LogBus (core 0)
# ---------------------------------------------------------------------------------------------

def role_ingest(argv: list[str]) -> None:
    n, workdir = int(argv[0]), Path(argv[1])
    from stagent.db import Database
    from stagent.db.migrations import migrate
    from stagent.engine.logbus import LogBus
    from stagent.store import projects as project_store
    from stagent.store import tasks as task_store

    async def setup(name: str):
        db = Database(workdir / name / "stagent.db")
        await db.open()
        await db.write_raw(migrate)
        project = await project_store.create_project(db, {"name": "ingest"})
        task = await task_store.create_task(db, {"title": "ingest", "project_id": project["id"]})
        calls = {"n": 0}
        write = db.write

        async def counting_write(fn):  # counts transactions only; the write itself is the product's
            calls["n"] += 1
            return await write(fn)

        db.write = counting_write
        bus = LogBus(db)
        await bus.start()
        return db, bus, task["id"], calls

    async def finish(db, bus, task_id, calls, t0, label) -> dict:
        await bus.flush()
        elapsed = time.perf_counter() - t0
        stored = await db.scalar("SELECT COUNT(*) FROM agent_logs WHERE task_id = ?", (task_id,))
        await bus.stop()
        await db.close()
        return {"mode": label, "events": n, "stored": stored, "seconds": elapsed, "events_per_s": n / elapsed,
                "transactions": calls["n"], "avg_batch": n / max(1, calls["n"])}

    async def append_all(label: str, yield_each_line: bool) -> dict:
        db, bus, task_id, calls = await setup(label)
        calls["n"] = 0
        t0 = time.perf_counter()
        if yield_each_line:
            # streamed: one running task appends one line and yields to the loop (as an LLM stream
            # callback does), so the flusher commits concurrently and batches form at their natural size.
            for i in range(n):
                bus.append(task_id, "stagent-agent", "stream", {"i": i, "text": TEXT_CHUNK})
                await asyncio.sleep(0)
        else:  # burst: all lines at once, then one flush (best-case batching)
            for i in range(n):
                bus.append(task_id, "stagent-agent", "stream", {"i": i, "text": TEXT_CHUNK})
        return await finish(db, bus, task_id, calls, t0, label)

    def raw_sqlite() -> dict:
        # Ceiling: stdlib sqlite3, same schema, same INSERT, one transaction, no event loop.
        path = workdir / "raw" / "stagent.db"
        path.parent.mkdir(parents=True)
        conn = sqlite3.connect(str(path), isolation_level=None)
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"):
            conn.execute(pragma)
        migrate(conn)
        from stagent.db.rows import new_id, now_iso
        task_id = new_id()
        conn.execute("INSERT INTO tasks (id, title, status, priority, created_at, updated_at) "
                     "VALUES (?, 'raw', 'running', 2, ?, ?)", (task_id, now_iso(), now_iso()))
        t0 = time.perf_counter()
        rows = [(new_id(), task_id, "stagent-agent", "stream",
                 json.dumps({"i": i, "text": TEXT_CHUNK}, separators=(",", ":")), now_iso()) for i in range(n)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) "
                         "SELECT ?,?,?,?,?,? WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM tasks WHERE id = ?2)", rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        stored = conn.execute("SELECT COUNT(*) FROM agent_logs").fetchone()[0]
        conn.close()
        return {"mode": "raw sqlite3", "events": n, "stored": stored, "seconds": elapsed,
                "events_per_s": n / elapsed, "transactions": 1, "avg_batch": n}

    async def main():
        return [await append_all("streamed", yield_each_line=True), await append_all("burst", yield_each_line=False)]

    results = run_event_loop(main())
    results.append(raw_sqlite())
    print("RESULT " + json.dumps(results), flush=True)


# ---------------------------------------------------------------------------------------------
# the measurement
# ---------------------------------------------------------------------------------------------

def measure(session: BenchSession) -> None:
    print("\n== 2a. Log ingestion: one task's lines committed to SQLite (real LogBus + Database) ==", flush=True)
    n = 30_000 if session.quick else 100_000
    work = session.tmp / "ingest"
    work.mkdir()
    proc = session.children.spawn(helper_cmd("_ingest", n, work), SERVER_CORE, stdout=subprocess.PIPE,
                                  stderr=session.logfile("ingest"), text=True)
    out, _ = proc.communicate(timeout=180)
    rows = last_json_line(out)
    if rows is None:
        raise RuntimeError("ingest helper failed:\n" + tail(session.tmp / "ingest.log"))
    for r in rows:
        session.log(f"{r['mode']:12s} {r['events_per_s']:10,.0f} events/s  ({r['stored']:,}/{r['events']:,} stored, "
                    f"{r['transactions']:,} transactions, avg batch {r['avg_batch']:.0f})")
    session.results["ingest"] = {r["mode"]: r for r in rows}

"""9. User tables: a 100,000-row table (20,000 with --quick) in a real Database.

- Query: a filtered, sorted page of 50 rows (stage = won AND amount >= 500, by amount desc then
  name asc) through `engine.tables.query_rows` (parse and check the filters, SQL over
  json_extract, rows decoded, computed values refreshed), p50 over the rounds, against the same
  SQL run by raw stdlib sqlite3 on the same file (fetch only). Target: p50 < 100 ms.
- Export: the first 10,000 rows as CSV (`exporting.export_rows` + `build`). Target: < 2 s.
- Import: a 100,000-row CSV document into an empty table (`document_import.run_import`: read,
  infer types, convert, add_rows). Target: < 10 s.
Insert time of the table itself (add_rows in batches of 5,000) is reported too.

Runs in this process, pinned to one core; nothing listens on a port.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from .common import CLIENT_CORE, ROOT, fmt, percentile
from .session import BenchSession

FILTERS = [{"column": "stage", "operator": "eq", "value": "won"},
           {"column": "amount", "operator": "gte", "value": 500}]
SORTS = [{"column": "amount", "direction": "desc"}, {"column": "name", "direction": "asc"}]
COLUMNS = [
    {"name": "name", "displayName": "Name", "dataType": "text", "required": True},
    {"name": "amount", "displayName": "Amount", "dataType": "number"},
    {"name": "stage", "displayName": "Stage", "dataType": "select", "config": {"options": ["lead", "won", "lost"]}},
    {"name": "due", "displayName": "Due", "dataType": "date"},
    {"name": "done", "displayName": "Done", "dataType": "boolean"},
    {"name": "email", "displayName": "Email", "dataType": "email"},
]


def _rows(n: int, seed: int = 17) -> list[dict]:
    rnd = random.Random(seed)
    stages = ("lead", "won", "lost")
    return [{"name": f"Customer {i:06}", "amount": rnd.randint(0, 1000), "stage": stages[rnd.randrange(3)],
             "due": f"2026-{rnd.randint(1, 12):02}-{rnd.randint(1, 28):02}", "done": rnd.random() < 0.5,
             "email": f"c{i}@example.com"} for i in range(n)]


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([c["name"] for c in COLUMNS])
        for r in rows:
            writer.writerow([r["name"], r["amount"], r["stage"], r["due"], "true" if r["done"] else "false", r["email"]])


async def _run(work: Path, n: int, rounds: int, log) -> dict:
    from stagent.db import Database
    from stagent.db.migrations import migrate
    from stagent.engine import tables
    from stagent.store.table_query import compile_query

    db = Database(work / "stagent.db")
    await db.open()
    await db.write_raw(migrate)
    out: dict = {"rows": n}
    try:
        table = await tables.create_table(db, {"name": "Bench"}, COLUMNS)
        data = _rows(n)
        t0 = time.perf_counter()
        for start in range(0, n, 5000):
            await tables.add_rows(db, table["id"], data[start:start + 5000])
        out["insert_s"] = time.perf_counter() - t0
        log(f"tables: {n:,} rows inserted through add_rows in {out['insert_s']:.2f} s")

        columns = await tables.table_columns(db, table["id"])
        from stagent.engine.tables.query import parse_filters, parse_sorts
        where, order, params = compile_query(parse_filters(FILTERS, columns), parse_sorts(SORTS, columns))
        sql = (f"SELECT id, table_id, data, position, created_by, created_at, updated_at FROM user_table_rows "
               f"WHERE table_id = ?{where} ORDER BY {order}position, id LIMIT ? OFFSET ?")
        raw = sqlite3.connect(str(work / "stagent.db"))
        raw_params = [table["id"], *params, 50, 0]
        ours, theirs = [], []
        page = await tables.query_rows(db, table["id"], FILTERS, SORTS, 50, 0)  # warm both
        expected = [r[0] for r in raw.execute(sql, raw_params).fetchall()]
        if [r["id"] for r in page] != expected or len(page) != 50:
            raise RuntimeError("the engine's page and raw sqlite3's differ")
        for _ in range(rounds):
            t0 = time.perf_counter()
            await tables.query_rows(db, table["id"], FILTERS, SORTS, 50, 0)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            raw.execute(sql, raw_params).fetchall()
            theirs.append(time.perf_counter() - t0)
        raw.close()
        ours.sort()
        out["query"] = {"rounds": rounds, "p50_ms": statistics.median(ours) * 1000,
                        "p95_ms": percentile(ours, 95) * 1000, "raw_p50_ms": statistics.median(theirs) * 1000}
        out["query"]["ratio"] = out["query"]["p50_ms"] / out["query"]["raw_p50_ms"]
        q = out["query"]
        log(f"  filtered, sorted page of 50: p50 {fmt(q['p50_ms'], ' ms')} vs raw sqlite3 {fmt(q['raw_p50_ms'], ' ms')}"
            f" ({q['ratio']:.2f}x; target p50 < 100 ms)")
        out.update(await _export_import(db, work, table["id"], data, log))
    finally:
        await db.close()
    return out


async def _export_import(db, work: Path, table_id: str, data: list[dict], log) -> dict:
    """Export and import through the import/export engine (engine/tables/exporting.py,
    document_import.py)."""
    from stagent.db.rows import new_id, now_iso
    from stagent.engine import tables
    from stagent.engine.tables import document_import, exporting

    out = {}
    t0 = time.perf_counter()
    table, rows = await exporting.export_rows(db, table_id)
    body = await asyncio.to_thread(exporting.build, "csv", table["columns"], rows)
    out["export"] = {"rows": len(rows), "seconds": time.perf_counter() - t0, "bytes": len(body)}
    log(f"  export of {len(rows):,} rows as CSV: {out['export']['seconds']:.2f} s (target < 2 s)")

    path = work / "import.csv"
    _write_csv(path, data)
    document_id, now = new_id(), now_iso()
    await db.execute(
        "INSERT INTO documents (id, filename, original_name, mime_type, size, storage_path, direction, status, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (document_id, path.name, path.name, "text/csv", path.stat().st_size, str(path), "input", "ready", now, now))
    empty = await tables.create_table(db, {"name": "Imported"}, [])
    t0 = time.perf_counter()
    result = await document_import.run_import(db, empty["id"], document_id, None, None)
    out["import"] = {"rows": result["rowsImported"], "skipped": result["rowsSkipped"],
                     "seconds": time.perf_counter() - t0}
    if result["rowsImported"] != len(data):
        raise RuntimeError(f"import kept {result['rowsImported']} of {len(data)} rows: {result['errors'][:3]}")
    log(f"  CSV import of {len(data):,} rows: {out['import']['seconds']:.2f} s (target < 10 s)")
    return out


def measure(session: BenchSession) -> None:
    sys.path.insert(0, str(ROOT))
    n = 20_000 if session.quick else 100_000
    work = session.tmp / "tables"
    work.mkdir()
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(CLIENT_CORE)})
    try:
        session.wait_quiet()
        session.results["tables"] = asyncio.run(_run(work, n, 10 if session.quick else 40, session.log))
    finally:
        os.sched_setaffinity(0, previous)


def summary_rows(results: dict) -> list[tuple]:
    """The summary table's rows for this section (metric, stagent, baseline, ratio, target, ok, original)."""
    if "tables" not in results:
        return []
    t = results["tables"]

    def ok(flag: bool) -> str:
        return "PASS" if flag else "FAIL"

    q = t["query"]
    rows = [(f"table query, page of 50 of {t['rows']:,} rows, p50 (vs raw sqlite3)", fmt(q["p50_ms"], " ms"),
             fmt(q["raw_p50_ms"], " ms"), f"{q['ratio']:.2f}", "< 100 ms", ok(q["p50_ms"] < 100), "")]
    if "export" in t:
        e = t["export"]
        rows.append((f"table export, {e['rows']:,} rows CSV", fmt(e["seconds"], " s", 2), "", "", "< 2 s",
                     ok(e["seconds"] < 2), ""))
    if "import" in t:
        i = t["import"]
        rows.append((f"table CSV import, {i['rows']:,} rows", fmt(i["seconds"], " s", 2), "", "", "< 10 s",
                     ok(i["seconds"] < 10), ""))
    return rows

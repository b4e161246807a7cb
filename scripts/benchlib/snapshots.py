"""10. Snapshots: a snapshot of a large database (1 GB; 100 MB with --quick) made by a real
`stagent serve` (core 0) while a client (core 1) keeps reading `GET /api/tasks/{id}`.

- Snapshot time (POST /api/snapshots until it answers: online backup, integrity_check, sha256,
  archive) beside a plain file copy of the same database file (the floor of any copy).
- p99 of the task GET while the snapshot runs, beside its p99 with nothing running (same
  daemon, same run). Targets (issue 18): the snapshot in < 30 s, the GET's p99 < 100 ms.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid

from .common import SERVER_CORE, fmt, free_port, percentile, tail
from .daemon import spawn_stagent
from .httpclient import _exchange, http_get, wait_health
from .session import BenchSession

ROW_BYTES = 4000
TARGET_S, TARGET_P99_MS = 30.0, 100.0


def grow(db_path, target_bytes: int) -> tuple[str, int]:
    """Fill agent_logs with ~4 kB lines until the file reaches target_bytes; a task to read."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01T00:00:00.000Z"
    task_id = str(uuid.uuid4())
    conn.execute("INSERT INTO tasks (id, title, status, created_at, updated_at) VALUES (?,?,?,?,?)",
                 (task_id, "bench task", "completed", now, now))
    rows = target_bytes // (ROW_BYTES + 120)
    filler = os.urandom(ROW_BYTES // 2).hex()  # incompressible-ish text
    batch = 5000
    for start in range(0, rows, batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) "
                         "VALUES (?,?,?,?,?,?)",
                         [(str(uuid.uuid4()), task_id, "bench", "stream", filler, now)
                          for _ in range(min(batch, rows - start))])
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return task_id, rows


class Prober(threading.Thread):
    """GET /api/tasks/{id} back to back (fresh connection each) until stopped; latencies in s."""

    def __init__(self, port: int, path: str):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.latencies: list[float] = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = http_get(self.port, self.path, timeout=10.0)
                if status == 200:
                    self.latencies.append(time.perf_counter() - t0)
                else:
                    self.errors += 1
            except (OSError, ValueError, IndexError):
                self.errors += 1
            time.sleep(0.005)

    def finish(self) -> list[float]:
        self.halt.set()
        self.join(15)
        return sorted(self.latencies)


def post_snapshot(port: int) -> dict:
    body = b"{}"
    head = (f"POST /api/snapshots HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    status, resp = _exchange(port, head + body, timeout=600)
    if status != 201:
        raise RuntimeError(f"POST /api/snapshots -> {status}: {resp[:300]!r}")
    return json.loads(resp)


def measure(session: BenchSession) -> None:
    target = (100 if session.quick else 1024) * 1024 * 1024
    print(f"\n== 10. Snapshots: a {target // 2**20:,} MB database while GET /api/tasks/{{id}} is probed ==", flush=True)
    data_dir = session.tmp / "snap-data"
    port = free_port()
    proc = spawn_stagent(session, "snap-init", data_dir, port, SERVER_CORE)
    if wait_health(port, 30, proc) is None:
        raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'snap-init.log')}")
    session.children.stop(proc)
    db_path = data_dir / "stagent.db"
    t0 = time.perf_counter()
    task_id, rows = grow(db_path, target)
    db_bytes = db_path.stat().st_size
    session.log(f"database grown to {db_bytes / 2**20:,.0f} MB ({rows:,} log lines) in {time.perf_counter() - t0:.1f} s")

    copy_target = session.tmp / "plain-copy.db"
    t0 = time.perf_counter()
    shutil.copyfile(db_path, copy_target)
    copy_s = time.perf_counter() - t0
    copy_target.unlink()

    session.wait_quiet()
    port = free_port()
    proc = spawn_stagent(session, "snap", data_dir, port, SERVER_CORE)
    try:
        if wait_health(port, 60, proc) is None:
            raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'snap.log')}")
        path = f"/api/tasks/{task_id}"
        idle = Prober(port, path)
        idle.start()
        time.sleep(3.0 if session.quick else 10.0)
        idle_lat = idle.finish()

        busy = Prober(port, path)
        busy.start()
        t0 = time.perf_counter()
        snap = post_snapshot(port)
        snapshot_s = time.perf_counter() - t0
        busy_lat = busy.finish()
    finally:
        session.children.stop(proc)

    res = {"db_mb": db_bytes / 2**20, "snapshot_s": snapshot_s, "copy_s": copy_s,
           "status": snap["status"], "verified": snap.get("verified"),
           "idle_p99_ms": (percentile(idle_lat, 99) or 0) * 1000, "busy_p99_ms": (percentile(busy_lat, 99) or 0) * 1000,
           "busy_p50_ms": (percentile(busy_lat, 50) or 0) * 1000, "busy_requests": len(busy_lat),
           "busy_errors": busy.errors}
    session.results["snapshots"] = res
    session.log(f"snapshot {snapshot_s:.1f} s ({snap['status']}, verified={snap.get('verified')}) vs plain copy "
                f"{copy_s:.2f} s; GET p99 during {res['busy_p99_ms']:.1f} ms over {len(busy_lat):,} requests "
                f"(idle p99 {res['idle_p99_ms']:.1f} ms), errors {busy.errors}")


def summary_rows(results: dict) -> list[tuple]:
    if "snapshots" not in results:
        return []
    s = results["snapshots"]
    made = s["status"] == "completed" and s["verified"]
    return [(f"snapshot of a {s['db_mb']:,.0f} MB db (vs plain file copy)", fmt(s["snapshot_s"], " s", 1),
             fmt(s["copy_s"], " s", 2), f"{s['snapshot_s'] / s['copy_s']:.1f}" if s["copy_s"] else "-",
             f"< {TARGET_S:g} s, verified", "PASS" if made and s["snapshot_s"] < TARGET_S else "FAIL", ""),
            ("  GET /api/tasks/{id} p99 during it (vs idle)", fmt(s["busy_p99_ms"], " ms", 1),
             fmt(s["idle_p99_ms"], " ms", 1),
             f"{s['busy_p99_ms'] / s['idle_p99_ms']:.2f}" if s["idle_p99_ms"] else "-", f"< {TARGET_P99_MS:g} ms",
             "PASS" if s["busy_p99_ms"] < TARGET_P99_MS and not s["busy_errors"] else "FAIL", "")]

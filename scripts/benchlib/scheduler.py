"""4. Scheduler: 10,000 active schedules in a real `stagent serve` — start-up time with them,
scheduler CPU and RSS while idle, and firing lateness for a burst of 1,000 schedules due in the
same second.

Lateness is observed from outside: this process polls the daemon's database read-only every
~2 ms and notes when each firing row becomes visible (committed), minus its slot time. The
baseline, measured in the same run, is the least any scheduler could do: a bare asyncio
sleep to the same kind of deadline followed by one raw sqlite3 transaction inserting 1,000
firing rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import daemon
from .common import SERVER_CORE, fmt, free_port, percentile, tail
from .httpclient import wait_health
from .probes import cpu_seconds, vm_rss_mb
from .session import BenchSession

TOTAL, BURST = 10_000, 1_000


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seed(db_path: Path, burst_at: datetime) -> None:
    """10,000 active schedules: 1,000 due at `burst_at`, the rest tomorrow."""
    now, later = _iso(datetime.now(UTC)), _iso(datetime.now(UTC) + timedelta(days=1))
    rows = []
    for i in range(TOTAL):
        due = _iso(burst_at) if i < BURST else later
        rows.append((str(uuid.uuid4()), f"bench schedule {i}", "Report the weather", "0 * * * *" if i < BURST
                     else "0 9 * * *", "UTC", due, now, now))
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO schedules (id, name, prompt, cron_expression, time_zone, next_fire_at, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?)", rows)


def observe_firings(db_path: Path, slot: datetime, expected: int, timeout: float) -> list[float]:
    """Lateness (s) of each firing, by when its row became visible to a reader."""
    seen: dict[str, float] = {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    deadline = time.time() + timeout
    try:
        while len(seen) < expected and time.time() < deadline:
            now = time.time()
            for (schedule_id,) in conn.execute("SELECT schedule_id FROM schedule_firings"):
                seen.setdefault(schedule_id, now)
            time.sleep(0.002)
    finally:
        conn.close()
    return sorted(t - slot.timestamp() for t in seen.values())


def baseline_lateness(tmp: Path) -> list[float]:
    """A bare asyncio sleep to a deadline, then 1,000 rows in one raw sqlite3 transaction."""
    db = tmp / "sched-baseline.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE firings (id TEXT PRIMARY KEY, schedule_id TEXT, slot TEXT, fired_at TEXT)")
    slot = datetime.now(UTC) + timedelta(seconds=1)

    async def fire():
        await asyncio.sleep(max(0.0, slot.timestamp() - time.time()))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO firings VALUES (?,?,?,?)",
                         [(str(uuid.uuid4()), str(i), _iso(slot), _iso(datetime.now(UTC))) for i in range(BURST)])
        conn.execute("COMMIT")
        return time.time()

    done = asyncio.run(fire())
    conn.close()
    return [done - slot.timestamp()] * BURST


def measure(session: BenchSession) -> None:
    print(f"\n== 4. Scheduler: {TOTAL:,} active schedules, a burst of {BURST:,} due in the same second ==", flush=True)
    data_dir = session.tmp / "sched-data"
    port = free_port()
    proc = daemon.spawn_stagent(session, "sched-init", data_dir, port, SERVER_CORE)
    if wait_health(port, 30, proc) is None:
        raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'sched-init.log')}")
    session.children.stop(proc)
    lead = 8.0 if session.quick else 12.0
    burst_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    seed(data_dir / "stagent.db", burst_at)

    session.wait_quiet()
    port = free_port()
    t0 = time.perf_counter()
    proc = daemon.spawn_stagent(session, "sched", data_dir, port, SERVER_CORE)
    first = wait_health(port, 30, proc)
    if first is None:
        raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'sched.log')}")
    start_s = first - t0
    daemon.wait_warm(session, proc, "sched")
    # Idle: nothing due until the burst; the scheduler sleeps until then.
    idle_window = min(4.0, max(1.0, burst_at.timestamp() - time.time() - 1.5))
    c0, w0 = cpu_seconds(proc.pid), time.perf_counter()
    time.sleep(idle_window)
    idle_cpu = (cpu_seconds(proc.pid) - c0) / (time.perf_counter() - w0) * 100
    rss = vm_rss_mb(proc.pid)
    late = observe_firings(data_dir / "stagent.db", burst_at, BURST, timeout=max(30.0, lead + 20))
    session.children.stop(proc)
    base = baseline_lateness(session.tmp)

    res = {"schedules": TOTAL, "burst": BURST, "start_s": start_s, "idle_cpu_percent": idle_cpu, "rss_mb": rss,
           "fired": len(late), "lateness_p50_ms": (percentile(late, 50) or 0) * 1000,
           "lateness_p99_ms": (percentile(late, 99) or 0) * 1000,
           "baseline_p99_ms": (percentile(base, 99) or 0) * 1000}
    session.results["scheduler"] = res
    session.log(f"start with {TOTAL:,} schedules: {start_s:.3f} s; idle CPU {idle_cpu:.2f} % over {idle_window:.1f} s; "
                f"RSS {fmt(rss, ' MB', 0)}")
    session.log(f"burst: {len(late):,}/{BURST:,} fired; lateness p50 {res['lateness_p50_ms']:.1f} ms, "
                f"p99 {res['lateness_p99_ms']:.1f} ms (baseline sleep+insert p99 {res['baseline_p99_ms']:.1f} ms)")

"""8. Shell: run_command of `true`, from the tool call to its result, against a bare spawn.

In one process on uvloop (the daemon's loop), with a real migrated database in the bench's temp
dir and the real registry: `run_tool(TASK_TOOLS, ctx, "run_command", {"command": "true"})`
does everything a task's call does after its permission check (read the secret settings and
the daemon's key file, scrub the environment, spawn bash in its own session, read both pipes,
kill the group, build the result) with a live-log callback that keeps the lines. Baseline,
same run, same loop: `create_subprocess_exec("/bin/sh", "-c", "true")` and its wait. The bench
process is pinned to the server core for the measurement.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from .common import SERVER_CORE, fmt, percentile
from .session import BenchSession

TARGET_MS = 30.0


async def _measure(data_dir, samples: int) -> dict:
    from stagent.db import Database
    from stagent.db.migrations import migrate
    from stagent.engine.agent import toolbox  # noqa: F401  (registers run_command)
    from stagent.engine.agent.tools import TASK_TOOLS, ToolContext, run_tool

    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "api-key").write_text("bench-daemon-key-0123456789\n")
    work = data_dir.parent / "shell-work"  # outside the data folder, where commands never run
    work.mkdir(exist_ok=True)
    db = Database(data_dir / "stagent.db")
    await db.open()
    try:
        await db.write_raw(migrate)
        lines: list = []
        ctx = ToolContext(db, {"id": "bench"}, work, {"text": None}, log=lambda kind, payload: lines.append(payload))

        async def tool_call() -> None:
            result = await run_tool(TASK_TOOLS, ctx, "run_command", {"command": "true"})
            assert result == "exit code 0 (no output)", result

        async def bare() -> None:
            proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "true", stdin=asyncio.subprocess.DEVNULL)
            await proc.wait()

        out = {}
        for name, call in (("bare", bare), ("tool", tool_call)):
            for _ in range(10):  # warm-up: imports, first spawn, reader connections
                await call()
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out[name] = {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99),
                         "max_ms": times[-1], "samples": samples}
        return out
    finally:
        await db.close()


def measure(session: BenchSession) -> None:
    print("\n== 8. Shell: run_command of `true`, call to result, vs a bare spawn ==", flush=True)
    import uvloop

    samples = 50 if session.quick else 300
    affinity = os.sched_getaffinity(0)
    session.wait_quiet()
    try:
        os.sched_setaffinity(0, {int(SERVER_CORE)})
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(_measure(session.tmp / "shell-data", samples))
    finally:
        os.sched_setaffinity(0, affinity)
    result["ratio_p50"] = result["tool"]["p50_ms"] / result["bare"]["p50_ms"]
    result["added_p50_ms"] = result["tool"]["p50_ms"] - result["bare"]["p50_ms"]
    session.results["shell"] = result
    t, b = result["tool"], result["bare"]
    session.log(f"run_command true: p50 {t['p50_ms']:.2f} ms, p99 {t['p99_ms']:.2f} ms; bare spawn p50 "
                f"{b['p50_ms']:.2f} ms, p99 {b['p99_ms']:.2f} ms ({result['ratio_p50']:.2f}x, "
                f"+{result['added_p50_ms']:.2f} ms)")


def summary_rows(results: dict) -> list[tuple]:
    """The summary table's rows: metric, stagent, baseline, ratio, target, ok, original."""
    if "shell" not in results:
        return []
    s = results["shell"]
    t, b = s["tool"], s["bare"]
    ok = "PASS" if t["p50_ms"] < TARGET_MS and t["p99_ms"] < TARGET_MS else "FAIL"
    return [("run_command `true`, call to result p50 (vs bare spawn)", fmt(t["p50_ms"], " ms", 2),
             fmt(b["p50_ms"], " ms", 2), f"{s['ratio_p50']:.2f}", f"< {TARGET_MS:g} ms", ok, ""),
            ("  p99", fmt(t["p99_ms"], " ms", 2), fmt(b["p99_ms"], " ms", 2),
             f"{t['p99_ms'] / b['p99_ms']:.2f}", f"< {TARGET_MS:g} ms", ok, "")]

"""8. Agent toolbox: the grep tool over a generated 20,000-file tree against `grep -rn` on the same
tree, and what a tool call costs beyond the tool's own work.

- grep: a tree of 200 folders x 100 Python-like files (~1.2 KB each, a .gitignore at the root and
  in every tenth folder whose rules match none of them, so both sides read the same 20,000 files),
  with one `def handler_<n>(` line in every 50th file. stagent's `grep` tool (run_tool on the task
  set, as a run calls it: path confinement, .gitignore rules, binary check, a worker thread) and
  `grep -rnE` search the same regex; both warm (page cache), alternating, median of the rounds.
  Both must find the same `path:line` set. Target: stagent within 3x of grep.
- Tool-call overhead: AgentLoop's one call path (arguments parsed, Permissions.check_tool, the
  task's tool_start/tool_result log lines through the real LogBus into SQLite, run_tool) for a
  tool that does nothing, against awaiting that tool directly; per call, log lines flushed
  (committed) inside the timed span. Two cases: a read-only tool (allowed without asking) and a
  tool an allow-list pattern allows (one settings read per call). Target: < 2 ms per call.

Both run in this process, pinned to one core with the grep child; nothing listens on a port.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import CLIENT_CORE, ROOT, fmt
from .session import BenchSession

FOLDERS, FILES_PER_FOLDER = 200, 100
REGEX = r"def handler_[0-9]+\("
CALLS = 2000


def make_tree(root: Path) -> int:
    """The 20,000-file tree; returns how many lines the regex matches."""
    body = "".join(f"    value_{i} = compute(value_{i - 1}, {i})  # step {i} of the pipeline\n" for i in range(1, 24))
    hits = 0
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n/build/\nnode_modules/\n.env\n")
    for d in range(FOLDERS):
        folder = root / f"pkg_{d:03}" / "mod"
        folder.mkdir(parents=True)
        if d % 10 == 0:
            (folder / ".gitignore").write_text("*.tmp\ncache/\n")
        for f in range(FILES_PER_FOLDER):
            n = d * FILES_PER_FOLDER + f
            head = f'"""Module {n}."""\n\nimport os\n\n\ndef run_{n}(value_0):\n'
            tail = "    return value_23\n"
            if n % 50 == 0:
                tail += f"\n\ndef handler_{n}(event):\n    return run_{n}(event)\n"
                hits += 1
            (folder / f"file_{f:03}.py").write_text(head + body + tail)
    # .gitignore files count as files for grep -rn but never match the regex
    return hits


async def _grep_tool(root: Path) -> tuple[float, set[str]]:
    from stagent.engine.agent import toolbox  # noqa: F401  (registers the tools)
    from stagent.engine.agent.tools import TASK_TOOLS, ToolContext, run_tool

    ctx = ToolContext(None, {"id": "bench"}, root, {"text": None})
    t0 = time.perf_counter()
    out = await run_tool(TASK_TOOLS, ctx, "grep", {"pattern": REGEX, "limit": 2000})
    elapsed = time.perf_counter() - t0
    if out.startswith("error") or "more match" in out:
        raise RuntimeError(f"grep tool: {out[:300]}")
    return elapsed, {":".join(line.split(":", 2)[:2]) for line in out.splitlines()}


def _grep_cli(root: Path) -> tuple[float, set[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(["grep", "-rnE", REGEX, "."], cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    found = {re.sub(r"^\./", "", line).split(":", 2)[0] + ":" + line.split(":", 2)[1]
             for line in done.stdout.splitlines()}
    return elapsed, found


def measure_grep(session: BenchSession) -> dict:
    root = session.tmp / "grep-tree"
    root.mkdir()
    t0 = time.perf_counter()
    hits = make_tree(root)
    session.log(f"toolbox: grep over {FOLDERS * FILES_PER_FOLDER:,} files (tree made in {time.perf_counter() - t0:.1f} s)")
    rounds = 3 if session.quick else 7
    ours, theirs = [], []
    _grep_cli(root)  # warm the page cache for both
    asyncio.run(_grep_tool(root))
    session.wait_quiet()
    for _ in range(rounds):
        seconds, found = asyncio.run(_grep_tool(root))
        ours.append(seconds)
        seconds, expected = _grep_cli(root)
        theirs.append(seconds)
    if found != expected or len(found) != hits:
        raise RuntimeError(f"grep tool found {len(found)} lines, grep -rn {len(expected)}, expected {hits}")
    res = {"files": FOLDERS * FILES_PER_FOLDER, "matches": hits, "rounds": rounds,
           "stagent_ms": statistics.median(ours) * 1000, "grep_ms": statistics.median(theirs) * 1000}
    res["ratio"] = res["stagent_ms"] / res["grep_ms"]
    session.log(f"  grep tool {fmt(res['stagent_ms'], ' ms')} vs grep -rn {fmt(res['grep_ms'], ' ms')}: "
                f"{res['ratio']:.2f}x (target <= 3x)")
    shutil.rmtree(root, ignore_errors=True)
    return res


async def _overhead(data_dir: Path) -> dict:
    from stagent.db import Database
    from stagent.db.migrations import migrate
    from stagent.engine.agent.loop import AgentLoop
    from stagent.engine.agent.tools import ToolContext, ToolSet, define
    from stagent.engine.governance.permissions import Permissions
    from stagent.engine.logbus import LogBus
    from stagent.engine.tasks.session import TaskSurface
    from stagent.events import EventBus
    from stagent.store import permissions as allow_store

    async def nothing(ctx, args):
        return "ok"

    db = Database(data_dir / "stagent.db")
    await db.open()
    await db.write_raw(migrate)
    await db.execute("INSERT INTO tasks (id, title, status, created_at, updated_at) "
                     "VALUES ('t1', 'bench', 'running', 'x', 'x')")
    await allow_store.update_allow(db, allow_store.GLOBAL_KEY, lambda p: [*p, "bench_tool"])
    logbus = LogBus(db)
    await logbus.start()
    permissions = Permissions(db, EventBus())
    task = {"id": "t1", "projectId": None, "agentProfile": None}
    ctx = ToolContext(db, task, data_dir, {"text": None})
    out = {}
    try:
        # "glob" is on the read-only list (allowed without asking); "bench_tool" by a pattern
        for label, name in (("safe", "glob"), ("pattern", "bench_tool")):
            tools = ToolSet("bench", [define(name, "does nothing", {}, (), nothing)])
            surface = TaskSurface(db, logbus, set(), task, "bench", "s1", [])
            loop = AgentLoop(surface, None, tools, ctx, budgets=None, permissions=permissions, max_steps=1)
            call = {"id": "c1", "name": name, "arguments": '{"path": "src/app.py"}'}
            for _ in range(200):  # warm-up
                await loop._call(call, True)
            await logbus.flush()
            t0 = time.perf_counter()
            for _ in range(CALLS):
                await loop._call(call, True)
            await logbus.flush()
            through_loop = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(CALLS):
                await nothing(ctx, {"path": "src/app.py"})
            direct = time.perf_counter() - t0
            out[label] = {"per_call_ms": (through_loop - direct) / CALLS * 1000, "calls": CALLS}
    finally:
        await logbus.stop()
        await db.close()
    return out


def measure_overhead(session: BenchSession) -> dict:
    data_dir = session.tmp / "toolbox-overhead"
    data_dir.mkdir()
    session.wait_quiet()
    res = asyncio.run(_overhead(data_dir))
    for label, r in res.items():
        session.log(f"  tool-call overhead ({label}): {r['per_call_ms']:.3f} ms per call (target < 2 ms)")
    return res


def measure(session: BenchSession) -> None:
    sys.path.insert(0, str(ROOT))
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(CLIENT_CORE)})  # this process and its grep child on one core
    try:
        session.results["toolbox"] = {"grep": measure_grep(session), "overhead": measure_overhead(session)}
    finally:
        os.sched_setaffinity(0, previous)


def summary_rows(results: dict) -> list[tuple]:
    """The summary table's rows for this section (metric, stagent, baseline, ratio, target, ok, original)."""
    if "toolbox" not in results:
        return []

    def ok(flag: bool) -> str:
        return "PASS" if flag else "FAIL"

    g, o = results["toolbox"]["grep"], results["toolbox"]["overhead"]
    rows = [(f"grep tool, {g['files']:,} files (vs grep -rn)", fmt(g["stagent_ms"], " ms"), fmt(g["grep_ms"], " ms"),
             f"{g['ratio']:.2f}", "<= 3x", ok(g["ratio"] <= 3), "")]
    for label, name in (("safe", "read-only tool"), ("pattern", "tool allowed by a pattern")):
        rows.append((f"tool-call overhead, {name}", fmt(o[label]["per_call_ms"], " ms", 3), "", "", "< 2 ms",
                     ok(o[label]["per_call_ms"] < 2), ""))
    return rows

"""3. Cold start and memory: seconds from spawning `stagent serve` to the first 200 on /api/health (fresh
and existing data dir) against the bare Starlette app, RSS before and after the background litellm
warm-up, and whether litellm was imported before the first 200 (plus an -X importtime audit in a full run)."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from . import daemon
from .api import spawn_bare_api
from .common import fmt, free_port, tail
from .httpclient import wait_health
from .probes import maps_contain, vm_rss_mb
from .session import BenchSession


def start_once(session: BenchSession, name: str, data_dir: Path, wait_warm: bool, env=None) -> dict:
    """Spawn `stagent serve` and time its first 200 on /api/health; RSS and litellm probes at that moment,
    and with wait_warm the same after the background litellm warm-up."""
    port = free_port()
    t0 = time.perf_counter()
    proc = daemon.spawn_stagent(session, name, data_dir, port, None, env=env)
    first = wait_health(port, 30, proc)
    if first is None:
        raise RuntimeError(f"stagent serve did not answer /api/health:\n{tail(session.tmp / f'{name}.log')}")
    rss_idle = vm_rss_mb(proc.pid)
    markers = ("tiktoken", "tokenizers", "/litellm/")
    at_first = maps_contain(proc.pid, markers)
    log_at_first = (session.tmp / f"{name}.log").read_text(errors="replace")
    res = {"seconds": first - t0, "rss_idle_mb": rss_idle, "litellm_markers_at_first_200": at_first,
           "log_at_first_200": log_at_first}
    res["litellm_done_at_first_200"] = "litellm loaded" in log_at_first
    if wait_warm:
        probes: list[float] = []
        seen = daemon.wait_warm(session, proc, name, probe_port=port, probe_latencies=probes)
        probes.sort()
        res["requests_during_warmup"] = {"count": len(probes), "median_ms": statistics.median(probes) * 1000
                                         if probes else None, "max_ms": probes[-1] * 1000 if probes else None}
        res["warmup_done_s"] = None if seen is None else seen - t0
        res["rss_warm_mb"] = vm_rss_mb(proc.pid)
        res["litellm_markers_after_warmup"] = maps_contain(proc.pid, markers)
    res["stop_s"] = session.children.stop(proc)
    return res


def measure(session: BenchSession) -> None:
    print("\n== 3. Cold start: spawn `stagent serve` -> first 200 on /api/health (polled every 10 ms) ==",
          flush=True)
    runs = 2 if session.quick else 3
    fresh, existing = [], []
    existing_dir = session.tmp / "cold-existing"
    for i in range(runs):
        d = session.tmp / f"cold-fresh-{i}"
        r = start_once(session, f"cold-fresh-{i}", d, wait_warm=(i == 0))
        r.pop("log_at_first_200")
        fresh.append(r)
        session.log(f"fresh    run {i + 1}: {r['seconds']:.3f} s  RSS {r['rss_idle_mb']:.0f} MB"
                    + (f" -> {fmt(r.get('rss_warm_mb'))} MB after warm-up (done at {fmt(r.get('warmup_done_s'), ' s', 2)};"
                       f" {r['requests_during_warmup']['count']} GET /api/projects meanwhile, median "
                       f"{fmt(r['requests_during_warmup']['median_ms'], ' ms')}, max "
                       f"{fmt(r['requests_during_warmup']['max_ms'], ' ms')})"
                       if i == 0 else "") + f"  stop {fmt(r['stop_s'], ' s', 2)}")
        if i == 0:
            shutil.copytree(d, existing_dir)  # a data dir left by a clean stop
    for i in range(runs):
        r = start_once(session, f"cold-existing-{i}", existing_dir, wait_warm=False)
        r.pop("log_at_first_200")
        existing.append(r)
        session.log(f"existing run {i + 1}: {r['seconds']:.3f} s  RSS {r['rss_idle_mb']:.0f} MB  "
                    f"stop {fmt(r['stop_s'], ' s', 2)}")
    # Baseline: the bare Starlette app (python + uvicorn + starlette imports), same polling.
    bare = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        proc = spawn_bare_api(session, port, "-", None, "cold-bare")
        first = wait_health(port, 30, proc)
        bare.append({"seconds": None if first is None else first - t0, "rss_idle_mb": vm_rss_mb(proc.pid)})
        session.children.stop(proc)
    session.log(f"bare Starlette app: {statistics.median(b['seconds'] for b in bare):.3f} s  "
                f"RSS {bare[0]['rss_idle_mb']:.0f} MB")
    audit = None
    if not session.quick:
        audit = import_audit(session)
    loaded = any(r["litellm_markers_at_first_200"] or r["litellm_done_at_first_200"] for r in fresh + existing)
    if audit is not None:
        loaded = loaded or audit["litellm_package_imported_before_first_200"]
    session.results["cold_start"] = {
        "fresh_median_s": statistics.median(r["seconds"] for r in fresh),
        "existing_median_s": statistics.median(r["seconds"] for r in existing),
        "bare_median_s": statistics.median(b["seconds"] for b in bare),
        "rss_idle_mb": fresh[0]["rss_idle_mb"], "rss_warm_mb": fresh[0].get("rss_warm_mb"),
        "bare_rss_idle_mb": bare[0]["rss_idle_mb"],
        "warmup_done_s": fresh[0].get("warmup_done_s"),
        # Loaded = the warm-up had finished (log line) or its native deps were mapped at the first 200.
        "litellm_loaded_before_first_200": loaded,
        "requests_during_warmup": fresh[0].get("requests_during_warmup"),
        "litellm_markers_after_warmup": fresh[0].get("litellm_markers_after_warmup"),
        "fresh": fresh, "existing": existing, "bare": bare, "import_audit": audit,
    }


def import_audit(session: BenchSession) -> dict:
    """One extra (untimed) start with -X importtime: which modules were imported before the first 200."""
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    r = start_once(session, "cold-audit", session.tmp / "cold-audit", wait_warm=True, env=env)
    before = parse_importtime(r["log_at_first_200"])
    after = parse_importtime((session.tmp / "cold-audit.log").read_text(errors="replace"))
    # The warm-up thread starts as soon as the daemon is up, so a few litellm submodules may
    # finish importing before the first response; what matters is that the `litellm` package
    # itself (whose line is written last) had not, i.e. the response did not wait for it.
    litellm_before = [m for m in before if m == "litellm" or m.startswith("litellm.")]
    litellm_after = [m for m in after if m == "litellm" or m.startswith("litellm.")]
    top = sorted(((us, m) for m, us in before.items() if "." not in m), reverse=True)[:8]
    audit = {"modules_before_first_200": len(before), "litellm_modules_before_first_200": len(litellm_before),
             "litellm_package_imported_before_first_200": "litellm" in before,
             "litellm_modules_after_warmup": len(litellm_after),
             "top_cumulative_imports_ms": {m: round(us / 1000, 1) for us, m in top}}
    session.log(f"import audit (-X importtime): {len(before)} modules imported before the first 200; "
                f"package litellm {'IMPORTED' if 'litellm' in before else 'not imported'} by then "
                f"({len(litellm_before)} litellm submodules already done by the background warm-up); "
                f"{len(litellm_after)} litellm modules after warm-up")
    session.log("slowest top-level imports before the first 200: "
                + ", ".join(f"{m} {us / 1000:.0f} ms" for us, m in top[:6]))
    return audit


def parse_importtime(text: str) -> dict[str, int]:
    """{module: cumulative µs} from -X importtime lines."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        out[parts[2].strip()] = int(parts[1])
    return out

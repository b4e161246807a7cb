"""1. API throughput: GET /api/tasks/{id} on `stagent serve` against a bare Starlette app returning the
same bodies, loaded by wrk (or, without wrk, the Python load generator role below)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import time
import uuid
from pathlib import Path

from .common import CLIENT_CORE, SERVER_CORE, free_port, last_json_line, percentile, raise_nofile, run_event_loop, tail
from .daemon import spawn_stagent, wait_warm
from .httpclient import http_get, http_json, wait_health
from .probes import ForeignLoad, cpu_seconds, vm_rss_mb
from .processes import helper_cmd
from .session import BenchSession

# ---------------------------------------------------------------------------------------------
# helper role `_bare_api PORT BODIES_FILE|-`: bare Starlette JSON endpoint (the API baseline;
# also the cold-start baseline)
# ---------------------------------------------------------------------------------------------

def role_bare_api(argv: list[str]) -> None:
    port, bodies_file = int(argv[0]), argv[1]
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    bodies = json.loads(Path(bodies_file).read_text()) if bodies_file != "-" else {}
    fallback = next(iter(bodies.values()), {"status": "ok"})

    async def task(request):
        return JSONResponse(bodies.get(request.path_params["id"], fallback))

    async def health(request):
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/api/tasks/{id}", task), Route("/api/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False, lifespan="on")


def spawn_bare_api(session: BenchSession, port: int, bodies_file, core: str | None, logname: str) -> subprocess.Popen:
    return session.children.spawn(helper_cmd("_bare_api", port, bodies_file), core, stdout=subprocess.DEVNULL,
                                  stderr=session.logfile(logname))


# ---------------------------------------------------------------------------------------------
# helper role `_loadgen PORT PATHS_JSON CONNS SECONDS`: Python load generator (only without wrk)
# ---------------------------------------------------------------------------------------------

def role_loadgen(argv: list[str]) -> None:
    port, paths, conns, duration = int(argv[0]), json.loads(argv[1]), int(argv[2]), float(argv[3])
    raise_nofile()

    async def main():
        latencies: list[float] = []
        counts = {"ok": 0, "non2xx": 0, "errors": 0}
        deadline = time.perf_counter() + duration

        async def worker(k: int):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                counts["errors"] += 1
                return
            i = k
            try:
                while time.perf_counter() < deadline:
                    path = paths[i % len(paths)]
                    i += 1
                    t0 = time.perf_counter()
                    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                    head = await reader.readuntil(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    await reader.readexactly(int(m.group(1)) if m else 0)
                    latencies.append(time.perf_counter() - t0)
                    counts["ok" if head[9:10] == b"2" else "non2xx"] += 1
            except (OSError, asyncio.IncompleteReadError):
                counts["errors"] += 1
            finally:
                writer.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(conns)))
        elapsed = time.perf_counter() - t0
        latencies.sort()
        print("RESULT " + json.dumps({
            "rps": (counts["ok"] + counts["non2xx"]) / elapsed,
            "p50_ms": (percentile(latencies, 50) or 0) * 1000,
            "p99_ms": (percentile(latencies, 99) or 0) * 1000,
            "requests": counts["ok"] + counts["non2xx"], "non2xx": counts["non2xx"],
            "errors": counts["errors"]}), flush=True)

    run_event_loop(main())


# ---------------------------------------------------------------------------------------------
# the measurement
# ---------------------------------------------------------------------------------------------

def parse_wrk(out: str) -> dict:
    def to_ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s|m)", value)
        num, unit = float(m.group(1)), m.group(2)
        return num * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (rps and p50 and p99 and total):
        raise RuntimeError("could not parse wrk output:\n" + out)
    return {"rps": float(rps.group(1)), "p50_ms": to_ms(p50.group(1)), "p99_ms": to_ms(p99.group(1)),
            "requests": int(total.group(1)), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(map(int, sock.groups())) if sock else 0}


# The two ways the API is loaded. Unpinned is how users run it (the headline): the kernel places the
# server's threads and wrk's freely, so a hop between the event loop and a database thread may cross
# cores. Pinned is the stack notes' set-up: the server's threads all on core 0, wrk alone on core 1.
MODES = {
    "unpinned": {"wrk_threads": 2, "connections": 16, "server_cores": None, "load_core": None},
    "pinned": {"wrk_threads": 1, "connections": 64, "server_cores": SERVER_CORE, "load_core": CLIENT_CORE},
}


def pin_all_threads(pid: int, cores: str | None) -> None:
    """Move every thread of a running server to `cores` (None: all of them); new threads inherit it."""
    if not shutil.which("taskset"):
        return
    cpus = cores if cores is not None else ",".join(map(str, sorted(os.sched_getaffinity(0))))
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, stdout=subprocess.DEVNULL)


def generate_load(session: BenchSession, port: int, paths: list[str], duration: float, lua: Path, mode: dict) -> dict:
    """Load for `duration` s as `mode` says: wrk if present, else the `_loadgen` role."""
    conns = mode["connections"]
    if session.wrk:
        cmd = [session.wrk, f"-t{mode['wrk_threads']}", f"-c{conns}", f"-d{duration:g}s", "--latency",
               "-s", str(lua), f"http://127.0.0.1:{port}"]
        proc = session.children.spawn(cmd, mode["load_core"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True)
        out, _ = proc.communicate(timeout=duration + 30)
        return parse_wrk(out)
    proc = session.children.spawn(helper_cmd("_loadgen", port, json.dumps(paths), conns, duration),
                                  mode["load_core"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=duration + 60)
    result = last_json_line(out)
    if result is None:
        raise RuntimeError("load generator failed:\n" + out[-2000:])
    return result


def seed_tasks(session: BenchSession, port: int, data_dir: Path) -> list[str]:
    """A project, tasks through the real API, and usage rows (no API writes usage) via SQLite."""
    project = http_json(port, "POST", "/api/projects",
                        {"name": "Bench project", "description": "seeded by scripts/bench.py",
                         "workingDirectory": str(session.tmp)})
    ids = []
    for i in range(20):
        task = http_json(port, "POST", "/api/tasks",
                         {"title": f"Bench task {i}", "description": "Summarise the repository README " * 3,
                          "projectId": project["id"], "priority": i % 4, "assignedAgent": "anthropic-direct"})
        ids.append(task["id"])
    conn = sqlite3.connect(str(data_dir / "stagent.db"), timeout=10)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    with conn:
        for task_id in ids:
            for k in range(3):
                conn.execute(
                    "INSERT INTO usage_ledger (id, task_id, project_id, activity_type, runtime_id, provider_id, "
                    "model_id, status, input_tokens, output_tokens, total_tokens, cost_micros, started_at, "
                    "finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (str(uuid.uuid4()), task_id, project["id"], "task_run", "anthropic-direct", "anthropic",
                     "claude-sonnet-4-5", "completed", 1200 + k, 340 + k, 1540 + 2 * k, 9000 + k, now, now))
    conn.close()
    return ids


def load_tool(session: BenchSession, mode: dict) -> str:
    if session.wrk:
        return f"wrk -t{mode['wrk_threads']} -c{mode['connections']}"
    return f"python asyncio load generator, {mode['connections']} connections"


def measure_once(session: BenchSession, port: int, proc: subprocess.Popen, paths: list[str],
                 lua: Path, mode: dict, warm: float, duration: float) -> dict:
    session.wait_quiet()
    generate_load(session, port, paths, warm, lua, mode)
    cpu0 = cpu_seconds(proc.pid)
    foreign = ForeignLoad()
    foreign.start()
    res = generate_load(session, port, paths, duration, lua, mode)
    res["foreign_cores"] = foreign.stop()
    cpu = (cpu_seconds(proc.pid) or 0) - (cpu0 or 0)
    res["server_cpu_us_per_req"] = cpu / max(1, res["requests"]) * 1e6
    res["server_cores_busy"] = cpu / duration
    res["rss_mb"] = vm_rss_mb(proc.pid)
    return res


def summarise(runs: dict[str, list[dict]]) -> dict:
    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in rs),
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "server_cpu_us_per_req": statistics.median(r["server_cpu_us_per_req"] for r in rs),
            "non2xx": sum(r["non2xx"] for r in rs), "errors": sum(r["errors"] for r in rs),
            "rss_mb_after": rs[-1]["rss_mb"], "runs": rs,
        }
    summary["ratio"] = summary["stagent"]["rps"] / summary["bare"]["rps"]
    # Each round's own ratio (bare and stagent measured back to back): their spread shows the noise.
    summary["round_ratios"] = [s["rps"] / b["rps"] for s, b in zip(runs["stagent"], runs["bare"], strict=True)]
    return summary


def measure(session: BenchSession) -> None:
    print("\n== 1. API throughput: GET /api/tasks/{id} ==", flush=True)
    rounds, duration, warm = (1, 3.0, 1.0) if session.quick else (3, 6.0, 2.0)
    session.log(f"{warm:g} s warm-up + {duration:g} s x {rounds} round(s) per mode; unpinned: "
                f"{load_tool(session, MODES['unpinned'])}, nothing pinned; pinned: "
                f"{load_tool(session, MODES['pinned'])} on core {CLIENT_CORE}, servers on core {SERVER_CORE}")
    port = free_port()
    data_dir = session.tmp / "api-data"
    proc = spawn_stagent(session, "api-stagent", data_dir, port, None)
    if wait_health(port, 30, proc) is None:
        raise RuntimeError("stagent serve did not start:\n" + tail(session.tmp / "api-stagent.log"))
    wait_warm(session, proc, "api-stagent")  # the litellm import must not compete with the load
    ids = seed_tasks(session, port, data_dir)
    bodies = {}
    for task_id in ids:
        status, body = http_get(port, f"/api/tasks/{task_id}")
        assert status == 200, (status, body[:200])
        bodies[task_id] = json.loads(body)
    body_len = statistics.mean(len(json.dumps(b, separators=(",", ":"))) for b in bodies.values())
    (session.tmp / "bodies.json").write_text(json.dumps(bodies))
    bare_port = free_port()
    bare = spawn_bare_api(session, bare_port, session.tmp / "bodies.json", None, "api-bare")
    if wait_health(bare_port, 30, bare) is None:
        raise RuntimeError("bare app did not start:\n" + tail(session.tmp / "api-bare.log"))
    status, bare_body = http_get(bare_port, f"/api/tasks/{ids[0]}")
    paths = [f"/api/tasks/{i}" for i in ids]
    lua = session.tmp / "ids.lua"
    lua.write_text("local ids = {" + ",".join(f'"{p}"' for p in paths) + "}\nlocal i = 0\n"
                   "request = function()\n  i = i % #ids + 1\n  return wrk.format(\"GET\", ids[i])\nend\n")
    session.log(f"{len(ids)} tasks with project + usage rows; body {body_len:.0f} B (bare: {len(bare_body)} B)")
    servers = {"stagent": (port, proc), "bare": (bare_port, bare)}
    runs = {mode: {"stagent": [], "bare": []} for mode in MODES}
    for r in range(rounds):
        for mode_name, mode in MODES.items():
            for name in ("bare", "stagent"):
                p, pr = servers[name]
                pin_all_threads(pr.pid, mode["server_cores"])
                res = measure_once(session, p, pr, paths, lua, mode, warm, duration)
                runs[mode_name][name].append(res)
                session.log(f"round {r + 1} {mode_name:8s} {name:8s} {res['rps']:8,.0f} req/s  "
                            f"p50 {res['p50_ms']:.1f} ms  p99 {res['p99_ms']:.1f} ms  non-2xx {res['non2xx']}  "
                            f"errors {res['errors']}  server CPU {res['server_cpu_us_per_req']:.0f} us/req"
                            + session.foreign_note(res["foreign_cores"]))
    summary = {}
    for mode_name, mode in MODES.items():
        summary[mode_name] = summarise(runs[mode_name])
        summary[mode_name]["tool"] = load_tool(session, mode)
    summary["body_bytes"] = body_len
    summary["duration_s"], summary["rounds"] = duration, rounds
    session.results["api"] = summary
    for pr in (proc, bare):
        session.children.stop(pr)

"""2b. Log delivery over SSE: one task's lines to 1, 100 and 1,000 raw-socket clients, from stagent (in
process, see sse_server.py) and from a bare sse-starlette fan-out, clients in one process (sse_clients.py)."""

from __future__ import annotations

import json
import statistics
import subprocess
import time

from .common import CLIENT_CORE, SERVER_CORE, fmt, free_port, tail
from .probes import ForeignLoad
from .processes import LineReader, helper_cmd
from .session import BenchSession


def measure(session: BenchSession) -> None:
    print("\n== 2b. Log delivery over SSE: one task's lines to N raw-socket clients ==", flush=True)
    duration = 1.5 if session.quick else 5.0
    # (clients, events/s, rounds): a streaming LLM reply is ~20-100 deltas/s; the targets
    # are for 1,000 clients, so that pair runs three times (alternating) in a full run.
    plan = [(1, 200.0, 1), (100, 50.0, 1), (1000, 20.0, 1 if session.quick else 3)]
    session.log(f"producer in the server process (core {SERVER_CORE}), clients in one process on core "
                f"{CLIENT_CORE}; {duration:g} s of events per run")
    servers = {}
    try:
        for kind in ("bare", "stagent"):  # both start at once; each idles while the other is measured
            port = free_port()
            proc = session.children.spawn(helper_cmd("_sse_server", kind, port, session.tmp / f"sse-{kind}-data"),
                                          SERVER_CORE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=session.logfile(f"sse-{kind}"), text=True, bufsize=1)
            servers[kind] = (port, proc, LineReader(proc))
        for kind, (_, _, reader) in servers.items():
            try:
                reader.expect("READY", 60)
            except (TimeoutError, RuntimeError) as exc:
                raise RuntimeError(f"{kind} SSE server: {exc}\n{tail(session.tmp / f'sse-{kind}.log')}") from None
        out: dict = {}
        for n, rate, rounds in plan:
            count = int(rate * duration)
            runs: dict[str, list] = {"bare": [], "stagent": []}
            for _ in range(rounds):
                for kind in ("bare", "stagent"):
                    res = measure_once(session, kind, servers[kind], n, rate, count)
                    runs[kind].append(res)
                    session.log(f"{n:5d} clients {kind:8s} {rate:5.0f} ev/s  delivered {res['delivered']:,}/"
                                f"{res['expected']:,}  p50 {fmt(res['p50_ms'])} ms  p99 {fmt(res['p99_ms'])} ms  "
                                f"max {fmt(res['max_ms'])} ms  server CPU {res['server_cpu_s']:.2f} s  "
                                f"RSS {fmt(res['server_rss_mb'])} MB" + session.foreign_note(res["foreign_cores"]))
            entry: dict = {"rate": rate, "events": count, "rounds": rounds}
            for kind, rs in runs.items():
                def med(key, rs=rs):
                    vals = [r[key] for r in rs if r[key] is not None]
                    return statistics.median(vals) if vals else None
                entry[kind] = {
                    "delivered": sum(r["delivered"] for r in rs), "expected": sum(r["expected"] for r in rs),
                    "duplicates": sum(r["duplicates"] for r in rs), "p50_ms": med("p50_ms"),
                    "p90_ms": med("p90_ms"), "p99_ms": med("p99_ms"),
                    "max_ms": max((r["max_ms"] for r in rs if r["max_ms"] is not None), default=None),
                    "server_cpu_s": med("server_cpu_s"), "server_rss_mb": rs[-1]["server_rss_mb"], "runs": rs,
                }
            s_, b_ = entry["stagent"], entry["bare"]
            entry["p99_ratio"] = (s_["p99_ms"] / b_["p99_ms"]) if s_["p99_ms"] and b_["p99_ms"] else None
            out[str(n)] = entry
        session.results["sse"] = out
    finally:
        for _, proc, reader in servers.values():
            try:
                reader.send("quit")
                reader.expect("BYE", 25)
                proc.wait(timeout=10)
            except (TimeoutError, RuntimeError, OSError, subprocess.TimeoutExpired):
                session.children.stop(proc)


def measure_once(session: BenchSession, kind: str, server, n: int, rate: float, count: int) -> dict:
    """One run: N clients subscribe to a fresh task, `count` events at `rate`/s; their delivery figures."""
    port, proc, reader = server
    reader.send("newtask")
    task_id = reader.expect("TASK", 10)
    path = f"/api/logs/stream?taskId={task_id}"
    timeout = count / rate + 60
    clients = session.children.spawn(helper_cmd("_sse_clients", port, n, path, count, timeout), CLIENT_CORE,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=session.logfile(f"clients-{kind}-{n}"), text=True, bufsize=1)
    creader = LineReader(clients)
    try:
        ready = json.loads(creader.expect("READY", 90))
        if ready["connected"] < n:
            session.log(f"warning: only {ready['connected']}/{n} clients connected ({ready['failed']} failed)")
        time.sleep(0.3)  # let the server settle after the connect burst
        session.wait_quiet()
        foreign = ForeignLoad()
        foreign.start()
        reader.send(f"produce {task_id} {rate} {count}")
        produced = json.loads(reader.expect("PRODUCED", count / rate + 60))
        foreign_cores = foreign.stop()
        # All events are out; give slow deliveries up to 10 s, then tell the clients to stop.
        try:
            result = json.loads(creader.expect("RESULT", 10))
        except TimeoutError:
            creader.send("stop")
            result = json.loads(creader.expect("RESULT", 60))
        clients.wait(timeout=30)
    finally:
        if clients.poll() is None:
            session.children.stop(clients)
    # Wait (bounded) until the server has let go of every subscriber before the next run.
    for _ in range(100):
        reader.send("subs")
        if int(reader.expect("SUBS", 10)) == 0:
            break
        time.sleep(0.1)
    result.update({"connect_s": ready["connect_s"], "server_cpu_s": produced["cpu_s"],
                   "producer_max_lag_ms": produced["max_lag_ms"], "server_rss_mb": produced["rss_mb"],
                   "rate": rate, "events": count, "foreign_cores": foreign_cores})
    return result

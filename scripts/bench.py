#!/usr/bin/env python3
"""stagent benchmark: API throughput, log ingestion and SSE fan-out, cold start and memory.

    .venv/bin/python scripts/bench.py [--quick]

Every figure is printed next to a baseline measured in the same run on the same machine
(a bare Starlette / sse-starlette app served the same way, or raw sqlite3), as a ratio,
with the target from issue 2. A JSON summary goes to bench-results/. See docs/benchmarks.md.

Only 127.0.0.1 traffic. Servers run pinned to core 0 and load generators / SSE clients to
core 1 (taskset), as in the stack notes. Every loop is bounded in count and time, and every
child process is stopped by its pid in a `finally`.

The script also runs its own helper processes: `bench.py _ROLE ...` (roles below), never
meant to be called by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import queue
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: import the stagent next to this script
VENV_BIN = Path(sys.executable).parent
STAGENT_BIN = VENV_BIN / "stagent"
RESULTS_DIR = ROOT / "bench-results"
SERVER_CORE, CLIENT_CORE = "0", "1"
TEXT_CHUNK = "The quick brown fox jumps over the lazy dog; streaming delta."  # ~60 chars, one LLM delta

# The original Stagent, measured on this kind of machine (../shared/reference/original-stagent-measured.md).
ORIGINAL = {
    "api_rps": "310-393 req/s",
    "api_p99": "144-180 ms",
    "sse_100_p99": "495 ms",
    "cold_start": "1.45-1.92 s",
    "rss_idle": "212-220 MB",
}


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def vm_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, all threads included."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def maps_contain(pid: int, needles: tuple[str, ...]) -> list[str]:
    found = set()
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                for n in needles:
                    if n in line:
                        found.add(n)
    except OSError:
        pass
    return sorted(found)


class ForeignLoad:
    """CPU used by processes outside this benchmark's process tree during a window (other users of the machine)."""

    def __init__(self) -> None:
        self.before: dict[int, float] = {}
        self.t0 = 0.0

    @staticmethod
    def _snapshot() -> dict[int, tuple[int, float]]:
        out = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
            except (OSError, IndexError, ValueError):
                continue
        return out

    def start(self) -> None:
        self.before = {pid: cpu for pid, (_, cpu) in self._snapshot().items()}
        self.t0 = time.perf_counter()

    def stop(self) -> float:
        """Average number of cores busy with foreign processes since start()."""
        snap = self._snapshot()
        wall = max(1e-6, time.perf_counter() - self.t0)
        ours = {os.getpid()}
        changed = True
        for _ in range(20):  # bounded: our tree is a few levels deep
            if not changed:
                break
            changed = False
            for pid, (ppid, _) in snap.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        busy = 0.0
        for pid, (_, cpu) in snap.items():
            if pid in ours:
                continue
            busy += cpu - self.before.get(pid, 0.0)
        return max(0.0, busy / wall)


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection (Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk_all(body)
    return status, body


def http_json(port: int, method: str, path: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        data = bytearray()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, resp = bytes(data).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        resp = dechunk_all(resp)
    if status >= 300:
        raise RuntimeError(f"{method} {path} -> {status}: {resp[:300]!r}")
    return json.loads(resp)


def dechunk_all(body: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(body):
        j = body.find(b"\r\n", i)
        if j < 0:
            break
        size = int(body[i:j].split(b";")[0], 16)
        if size == 0:
            break
        out += body[j + 2:j + 2 + size]
        i = j + 2 + size + 2
    return bytes(out)


def wait_health(port: int, timeout: float, proc: subprocess.Popen | None = None,
                interval: float = 0.01, path: str = "/api/health") -> float | None:
    """Poll until the first 200; returns perf_counter() at that moment, or None."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            return None
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return time.perf_counter()
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(interval)
    return None


def fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the bench dies (even by SIGKILL). Kept across exec."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class Children:
    """Every process this run started, stopped by pid in `stop_all` (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def spawn(self, cmd: list[str], core: str | None, **kw) -> subprocess.Popen:
        if core is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", core, *cmd]  # taskset execs: the pid is the command's pid
        proc = subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 15.0) -> float | None:
        """SIGTERM and wait; SIGKILL after `timeout`. Returns seconds to exit after SIGTERM."""
        if proc.poll() is not None:
            return 0.0
        t0 = time.perf_counter()
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=timeout)
            return time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return None
        except ProcessLookupError:
            return 0.0

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.stop(proc, timeout=10)
        for proc in self.procs:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass


class LineReader:
    """Lines of a child's stdout, read by a daemon thread, with a timeout on each read."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{prefix}' line within {timeout:.0f} s")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"helper exited (rc={self.proc.poll()}) before '{prefix}'")
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def helper_cmd(role: str, *args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), role, *map(str, args)]


def tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run_event_loop(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvicorn[standard] ships it
        return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------
# helper role: bare Starlette JSON endpoint (the API baseline)
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


# ---------------------------------------------------------------------------------------------
# helper role: Python load generator (used only when wrk is missing)
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
# helper role: SSE server (stagent in-process, or the bare sse-starlette fan-out) + producer
# ---------------------------------------------------------------------------------------------

def _bare_sse_app():
    from sse_starlette.event import ServerSentEvent
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    subscribers: set = set()

    async def stream(request):
        task_id = request.query_params.get("taskId")
        q: asyncio.Queue = asyncio.Queue()
        entry = (task_id, q)
        subscribers.add(entry)

        async def events():
            try:
                while True:
                    seq, data = await q.get()
                    yield ServerSentEvent(data=data, id=seq)
            finally:
                subscribers.discard(entry)

        return EventSourceResponse(events(), ping=15)

    async def health(request):
        return JSONResponse({"status": "ok"})

    def publish(task_id: str, seq: str, data: str) -> None:
        for tid, q in subscribers:
            if tid == task_id:
                q.put_nowait((seq, data))

    app = Starlette(routes=[Route("/api/logs/stream", stream), Route("/api/health", health)])
    app.state.publish = publish
    app.state.subscribers = subscribers
    return app


def role_sse_server(argv: list[str]) -> None:
    kind, port, data_dir = argv[0], int(argv[1]), Path(argv[2])
    warm_llm = "nollm" not in argv[3:]
    raise_nofile()
    import uvicorn

    async def main():
        loop = asyncio.get_running_loop()
        if kind == "stagent":
            from stagent.app import create_app
            from stagent.config import Config
            # As `stagent serve` runs: litellm is warmed in the background after start-up (its
            # ~300k objects make every full GC pass longer, so leaving it out would flatter us).
            app = create_app(Config(host="127.0.0.1", port=port, data_dir=data_dir, warm_llm=warm_llm))
        else:
            app = _bare_sse_app()
        # The same settings as `stagent serve` (uvicorn.run with loop/http "auto" = uvloop/httptools).
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools",
                                               log_level="warning", access_log=False, lifespan="on",
                                               timeout_graceful_shutdown=5))
        serve_task = asyncio.create_task(server.serve())
        for _ in range(3000):
            if server.started or serve_task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            print("ERROR server did not start", flush=True)
            return
        if kind == "stagent" and warm_llm:
            from stagent.engine import llm
            for _ in range(600):  # the daemon's own warm-up; at most 30 s
                if llm.is_loaded():
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)

        commands: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin():
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, line.strip())
            loop.call_soon_threadsafe(commands.put_nowait, "quit")

        threading.Thread(target=read_stdin, daemon=True).start()
        print("READY", flush=True)
        bare_seq = 0
        project_id = None
        while True:
            cmd, *args = (await commands.get()).split() or ["noop"]
            if cmd == "quit":
                break
            if cmd == "newtask":
                if kind == "stagent":
                    from stagent.store import projects as project_store
                    from stagent.store import tasks as task_store
                    db = app.state.db
                    if project_id is None:
                        project_id = (await project_store.create_project(db, {"name": "bench"}))["id"]
                    task = await task_store.create_task(db, {"title": "bench stream", "project_id": project_id})
                    print(f"TASK {task['id']}", flush=True)
                else:
                    print(f"TASK {uuid.uuid4()}", flush=True)
            elif cmd == "subs":
                subs = app.state.logbus._subscribers if kind == "stagent" else app.state.subscribers
                print(f"SUBS {len(subs)}", flush=True)
            elif cmd == "produce":
                task_id, rate, count = args[0], float(args[1]), int(args[2])
                cpu0, t0 = cpu_seconds(os.getpid()), loop.time()
                max_lag = 0.0
                for i in range(count):
                    target = t0 + i / rate
                    delay = target - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        max_lag = max(max_lag, -delay)
                    payload = {"i": i, "t": time.time(), "text": TEXT_CHUNK}
                    if kind == "stagent":
                        app.state.logbus.append(task_id, "stagent-agent", "stream", payload)
                    else:
                        # What a bare server would send: the same row shape, encoded once per event.
                        bare_seq += 1
                        row = {"id": str(uuid.uuid4()), "seq": bare_seq, "taskId": task_id,
                               "agentType": "stagent-agent", "event": "stream",
                               "payload": json.dumps(payload, separators=(",", ":")),
                               "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
                        app.state.publish(task_id, str(bare_seq), json.dumps(row, separators=(",", ":")))
                if kind == "stagent":
                    await app.state.logbus.flush()
                elapsed = loop.time() - t0
                print("PRODUCED " + json.dumps({"count": count, "seconds": elapsed, "max_lag_ms": max_lag * 1000,
                                                "cpu_s": (cpu_seconds(os.getpid()) or 0) - (cpu0 or 0),
                                                "rss_mb": vm_rss_mb(os.getpid())}), flush=True)
            elif cmd == "stats":
                print("STATS " + json.dumps({"rss_mb": vm_rss_mb(os.getpid()),
                                             "cpu_s": cpu_seconds(os.getpid())}), flush=True)
        server.should_exit = True
        try:
            await asyncio.wait_for(serve_task, 20)
        except TimeoutError:
            pass
        print("BYE", flush=True)

    run_event_loop(main())


# ---------------------------------------------------------------------------------------------
# helper role: N raw-socket SSE clients (core 1)
# ---------------------------------------------------------------------------------------------

class SSEClient(asyncio.Protocol):
    """HTTP/1.1 GET, then a streaming chunked decoder; keeps (receive time, data line) pairs."""

    def __init__(self, request: bytes, expect: int, on_headers, on_complete):
        self.request = request
        self.expect = expect
        self.on_headers = on_headers
        self.on_complete = on_complete
        self.transport = None
        self.raw = bytearray()
        self.body = bytearray()
        self.state = "headers"
        self.chunk_left = 0
        self.crlf_left = 0
        self.status = None
        self.events: list[tuple[float, bytes]] = []
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.closed = True
        if self.state == "headers":
            self.on_headers(self, None)

    def data_received(self, data: bytes):
        now = time.time()
        raw = self.raw
        raw += data
        if self.state == "headers":
            i = raw.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(raw[:i]).lower()
            del raw[:i + 4]
            self.status = int(head.split(b" ", 2)[1])
            self.state = "chunked" if b"transfer-encoding: chunked" in head else "identity"
            self.on_headers(self, self.status)
        if self.state == "identity":
            self.body += raw
            raw.clear()
        else:
            while raw:
                if self.crlf_left:
                    take = min(self.crlf_left, len(raw))
                    del raw[:take]
                    self.crlf_left -= take
                    continue
                if self.chunk_left == 0:
                    j = raw.find(b"\r\n")
                    if j < 0:
                        break
                    size = int(bytes(raw[:j]).split(b";")[0].strip() or b"0", 16)
                    del raw[:j + 2]
                    if size == 0:
                        raw.clear()
                        break
                    self.chunk_left = size
                take = raw[:self.chunk_left]
                del raw[:len(take)]
                self.body += take
                self.chunk_left -= len(take)
                if self.chunk_left == 0:
                    self.crlf_left = 2
        body = self.body
        before = len(self.events)
        while True:
            j = body.find(b"\n")
            if j < 0:
                break
            line = bytes(body[:j]).rstrip(b"\r")
            del body[:j + 1]
            if line.startswith(b"data:"):
                self.events.append((now, line[5:]))
        if len(self.events) >= self.expect > before:
            self.on_complete()


def role_sse_clients(argv: list[str]) -> None:
    port, n, path, expect, timeout = int(argv[0]), int(argv[1]), argv[2], int(argv[3]), float(argv[4])
    raise_nofile()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()

    async def main():
        loop = asyncio.get_running_loop()
        headers_seen = {"ok": 0, "bad": 0}
        all_headers = asyncio.Event()
        complete = {"n": 0}
        all_done = asyncio.Event()
        stop = asyncio.Event()

        def on_headers(client, status):
            headers_seen["ok" if status == 200 else "bad"] += 1
            if headers_seen["ok"] + headers_seen["bad"] >= n:
                all_headers.set()

        def on_complete():
            complete["n"] += 1
            if complete["n"] >= n:
                all_done.set()

        def read_stdin():
            for line in sys.stdin:
                if line.strip() == "stop":
                    break
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_stdin, daemon=True).start()
        clients: list[SSEClient] = []
        connect_failed = 0
        sem = asyncio.Semaphore(100)

        async def connect():
            nonlocal connect_failed
            async with sem:
                client = SSEClient(request, expect, on_headers, on_complete)
                try:
                    await loop.create_connection(lambda: client, "127.0.0.1", port)
                    clients.append(client)
                except OSError:
                    connect_failed += 1
                    on_headers(client, None)

        t0 = time.perf_counter()
        # The instrument must not pause: no cyclic GC in this process while it measures.
        gc.disable()
        await asyncio.gather(*(connect() for _ in range(n)))
        try:
            await asyncio.wait_for(all_headers.wait(), 60)
        except TimeoutError:
            pass
        print(f"READY {json.dumps({'connected': headers_seen['ok'], 'failed': headers_seen['bad'] + connect_failed, 'connect_s': time.perf_counter() - t0})}",
              flush=True)
        done_waiter = asyncio.ensure_future(all_done.wait())
        stop_waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait([done_waiter, stop_waiter], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        done_waiter.cancel()
        stop_waiter.cancel()
        for c in clients:
            if c.transport is not None:
                c.transport.close()

        latencies: list[float] = []
        delivered = dup = bad = 0
        complete_clients = 0
        for c in clients:
            seen: set[int] = set()
            for recv, data in c.events:
                try:
                    row = json.loads(data)
                    payload = row["payload"]
                    payload = json.loads(payload) if isinstance(payload, str) else payload
                    i, sent = payload["i"], payload["t"]
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    continue
                if i in seen:
                    dup += 1
                    continue
                seen.add(i)
                delivered += 1
                latencies.append(recv - sent)
            complete_clients += len(seen) == expect
        latencies.sort()
        ms = lambda v: None if v is None else v * 1000  # noqa: E731
        print("RESULT " + json.dumps({
            "clients": n, "connected": headers_seen["ok"], "complete_clients": complete_clients,
            "expected": n * expect, "delivered": delivered, "duplicates": dup, "unparsable": bad,
            "p50_ms": ms(percentile(latencies, 50)), "p90_ms": ms(percentile(latencies, 90)),
            "p99_ms": ms(percentile(latencies, 99)), "max_ms": ms(latencies[-1] if latencies else None),
        }), flush=True)

    run_event_loop(main())


# ---------------------------------------------------------------------------------------------
# helper role: log ingestion in-process with the real Database + LogBus (core 0)
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
                "transactions": calls["n"] - 0, "avg_batch": n / max(1, calls["n"])}

    async def streamed() -> dict:
        # One running task: append one line, yield to the loop (as an LLM stream callback does),
        # so the flusher commits concurrently and batches form at their natural size.
        db, bus, task_id, calls = await setup("streamed")
        calls["n"] = 0
        t0 = time.perf_counter()
        for i in range(n):
            bus.append(task_id, "stagent-agent", "stream", {"i": i, "text": TEXT_CHUNK})
            await asyncio.sleep(0)
        return await finish(db, bus, task_id, calls, t0, "streamed")

    async def burst() -> dict:
        db, bus, task_id, calls = await setup("burst")
        calls["n"] = 0
        t0 = time.perf_counter()
        for i in range(n):
            bus.append(task_id, "stagent-agent", "stream", {"i": i, "text": TEXT_CHUNK})
        return await finish(db, bus, task_id, calls, t0, "burst")

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
        return [await streamed(), await burst()]

    results = run_event_loop(main())
    results.append(raw_sqlite())
    print("RESULT " + json.dumps(results), flush=True)


# ---------------------------------------------------------------------------------------------
# the orchestrator
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.children = Children()
        self.tmp = Path(tempfile.mkdtemp(prefix="stagent-bench-"))
        self.results: dict = {}
        self.wrk = shutil.which("wrk")
        self.quiet_budget = 3.0 if quick else 60.0  # total seconds we may wait for an idle machine

    def log(self, msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def wait_quiet(self) -> None:
        """Before a measurement: wait (bounded) for other processes to go quiet; go on regardless."""
        deadline = time.perf_counter() + min(5.0, self.quiet_budget)
        t0 = time.perf_counter()
        while time.perf_counter() < deadline:
            probe = ForeignLoad()
            probe.start()
            time.sleep(0.5)
            if probe.stop() < 0.1:
                break
        self.quiet_budget -= time.perf_counter() - t0

    def foreign_note(self, cores: float) -> str:
        self.results["max_foreign_cores"] = max(self.results.get("max_foreign_cores", 0.0), cores)
        return f"  [other processes used {cores:.2f} cores]" if cores >= 0.05 else ""

    def logfile(self, name: str):
        return open(self.tmp / f"{name}.log", "w")

    # -- stagent serve subprocess ------------------------------------------------------------
    def spawn_stagent(self, name: str, data_dir: Path, port: int, core: str | None, env=None) -> subprocess.Popen:
        err = self.tmp / f"{name}.log"
        return self.children.spawn(
            [str(STAGENT_BIN), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            core, stdout=subprocess.DEVNULL, stderr=open(err, "w"), stdin=subprocess.DEVNULL,
            env=env, cwd=self.tmp)

    def wait_warm(self, proc: subprocess.Popen, logname: str, timeout: float = 20.0,
                  probe_port: int | None = None, probe_latencies: list | None = None) -> float | None:
        """Wait for the daemon's 'litellm loaded' log line; then for the RSS to settle.

        With probe_port, time a GET /api/projects every 50 ms meanwhile (is the daemon responsive
        while litellm is imported in the background?)."""
        t0 = time.perf_counter()
        log = self.tmp / f"{logname}.log"
        seen = None
        while time.perf_counter() - t0 < timeout and proc.poll() is None:
            if "litellm loaded" in log.read_text(errors="replace"):
                seen = time.perf_counter()
                break
            if probe_port is not None and probe_latencies is not None:
                r0 = time.perf_counter()
                try:
                    status, _ = http_get(probe_port, "/api/projects", timeout=5.0)
                    if status == 200:
                        probe_latencies.append(time.perf_counter() - r0)
                except (OSError, ValueError, IndexError):
                    pass
            time.sleep(0.05)
        # RSS settled: three samples 100 ms apart within 1 MB (bounded to 3 s).
        last, stable = None, 0
        for _ in range(30):
            rss = vm_rss_mb(proc.pid)
            if last is not None and rss is not None and abs(rss - last) < 1.0:
                stable += 1
                if stable >= 3:
                    break
            else:
                stable = 0
            last = rss
            time.sleep(0.1)
        return seen

    # -- 1. API throughput -------------------------------------------------------------------
    def load(self, port: int, paths: list[str], duration: float, lua: Path) -> dict:
        if self.wrk:
            cmd = [self.wrk, "-t1", "-c64", f"-d{duration:g}s", "--latency", "-s", str(lua),
                   f"http://127.0.0.1:{port}"]
            proc = self.children.spawn(cmd, CLIENT_CORE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out, _ = proc.communicate(timeout=duration + 30)
            return parse_wrk(out)
        proc = self.children.spawn(helper_cmd("_loadgen", port, json.dumps(paths), 64, duration), CLIENT_CORE,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=duration + 60)
        line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if not line:
            raise RuntimeError("load generator failed:\n" + out[-2000:])
        return json.loads(line[-1][7:])

    def bench_api(self) -> None:
        print("\n== 1. API throughput: GET /api/tasks/{id} ==", flush=True)
        tool = "wrk -t1 -c64" if self.wrk else "python asyncio load generator, 64 connections"
        rounds, duration, warm = (1, 3.0, 1.0) if self.quick else (3, 6.0, 2.0)
        self.log(f"load: {tool}, {warm:g} s warm-up + {duration:g} s x {rounds} round(s), server on core "
                 f"{SERVER_CORE}, load on core {CLIENT_CORE}")
        port = free_port()
        data_dir = self.tmp / "api-data"
        proc = self.spawn_stagent("api-stagent", data_dir, port, SERVER_CORE)
        if wait_health(port, 30, proc) is None:
            raise RuntimeError("stagent serve did not start:\n" + tail(self.tmp / "api-stagent.log"))
        self.wait_warm(proc, "api-stagent")  # the litellm import must not share core 0 with the load
        ids = self.seed(port, data_dir)
        bodies = {}
        for task_id in ids:
            status, body = http_get(port, f"/api/tasks/{task_id}")
            assert status == 200, (status, body[:200])
            bodies[task_id] = json.loads(body)
        body_len = statistics.mean(len(json.dumps(b, separators=(",", ":"))) for b in bodies.values())
        (self.tmp / "bodies.json").write_text(json.dumps(bodies))
        bare_port = free_port()
        bare = self.children.spawn(helper_cmd("_bare_api", bare_port, self.tmp / "bodies.json"), SERVER_CORE,
                                   stdout=subprocess.DEVNULL, stderr=self.logfile("api-bare"))
        if wait_health(bare_port, 30, bare) is None:
            raise RuntimeError("bare app did not start:\n" + tail(self.tmp / "api-bare.log"))
        status, bare_body = http_get(bare_port, f"/api/tasks/{ids[0]}")
        paths = [f"/api/tasks/{i}" for i in ids]
        lua = self.tmp / "ids.lua"
        lua.write_text("local ids = {" + ",".join(f'"{p}"' for p in paths) + "}\nlocal i = 0\n"
                       "request = function()\n  i = i % #ids + 1\n  return wrk.format(\"GET\", ids[i])\nend\n")
        self.log(f"{len(ids)} tasks with project + usage rows; body {body_len:.0f} B (bare: {len(bare_body)} B)")
        runs = {"stagent": [], "bare": []}
        servers = {"stagent": (port, proc), "bare": (bare_port, bare)}
        for r in range(rounds):
            for name in ("bare", "stagent"):
                p, pr = servers[name]
                self.wait_quiet()
                self.load(p, paths, warm, lua)
                cpu0 = cpu_seconds(pr.pid)
                foreign = ForeignLoad()
                foreign.start()
                res = self.load(p, paths, duration, lua)
                res["foreign_cores"] = foreign.stop()
                cpu = (cpu_seconds(pr.pid) or 0) - (cpu0 or 0)
                res["server_cpu_us_per_req"] = cpu / max(1, res["requests"]) * 1e6
                res["server_cores_busy"] = cpu / duration
                res["rss_mb"] = vm_rss_mb(pr.pid)
                runs[name].append(res)
                self.log(f"round {r + 1} {name:8s} {res['rps']:8,.0f} req/s  p50 {res['p50_ms']:.1f} ms  "
                         f"p99 {res['p99_ms']:.1f} ms  non-2xx {res['non2xx']}  errors {res['errors']}  "
                         f"server CPU {res['server_cpu_us_per_req']:.0f} us/req"
                         + self.foreign_note(res["foreign_cores"]))
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
        summary["tool"] = tool
        summary["body_bytes"] = body_len
        summary["duration_s"], summary["rounds"] = duration, rounds
        self.results["api"] = summary
        for pr in (proc, bare):
            self.children.stop(pr)

    def seed(self, port: int, data_dir: Path) -> list[str]:
        """A project, tasks through the real API, and usage rows (no API writes usage) via SQLite."""
        project = http_json(port, "POST", "/api/projects",
                            {"name": "Bench project", "description": "seeded by scripts/bench.py",
                             "workingDirectory": str(self.tmp)})
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

    # -- 2a. log ingestion -------------------------------------------------------------------
    def bench_ingest(self) -> None:
        print("\n== 2a. Log ingestion: one task's lines committed to SQLite (real LogBus + Database) ==", flush=True)
        n = 30_000 if self.quick else 100_000
        work = self.tmp / "ingest"
        work.mkdir()
        proc = self.children.spawn(helper_cmd("_ingest", n, work), SERVER_CORE, stdout=subprocess.PIPE,
                                   stderr=self.logfile("ingest"), text=True)
        out, _ = proc.communicate(timeout=180)
        line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if not line:
            raise RuntimeError("ingest helper failed:\n" + tail(self.tmp / "ingest.log"))
        rows = json.loads(line[-1][7:])
        for r in rows:
            self.log(f"{r['mode']:12s} {r['events_per_s']:10,.0f} events/s  ({r['stored']:,}/{r['events']:,} stored, "
                     f"{r['transactions']:,} transactions, avg batch {r['avg_batch']:.0f})")
        self.results["ingest"] = {r["mode"]: r for r in rows}

    # -- 2b. SSE fan-out ---------------------------------------------------------------------
    def bench_sse(self) -> None:
        print("\n== 2b. Log delivery over SSE: one task's lines to N raw-socket clients ==", flush=True)
        duration = 1.5 if self.quick else 5.0
        # (clients, events/s, rounds): a streaming LLM reply is ~20-100 deltas/s; the targets
        # are for 1,000 clients, so that pair runs three times (alternating) in a full run.
        plan = [(1, 200.0, 1), (100, 50.0, 1), (1000, 20.0, 1 if self.quick else 3)]
        self.log(f"producer in the server process (core {SERVER_CORE}), clients in one process on core "
                 f"{CLIENT_CORE}; {duration:g} s of events per run")
        servers = {}
        try:
            for kind in ("bare", "stagent"):  # both start at once; each idles while the other is measured
                port = free_port()
                proc = self.children.spawn(helper_cmd("_sse_server", kind, port, self.tmp / f"sse-{kind}-data"),
                                           SERVER_CORE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=self.logfile(f"sse-{kind}"), text=True, bufsize=1)
                servers[kind] = (port, proc, LineReader(proc))
            for kind, (_, _, reader) in servers.items():
                try:
                    reader.expect("READY", 60)
                except (TimeoutError, RuntimeError) as exc:
                    raise RuntimeError(f"{kind} SSE server: {exc}\n{tail(self.tmp / f'sse-{kind}.log')}") from None
            out: dict = {}
            for n, rate, rounds in plan:
                count = int(rate * duration)
                runs: dict[str, list] = {"bare": [], "stagent": []}
                for _ in range(rounds):
                    for kind in ("bare", "stagent"):
                        res = self.sse_run(kind, servers[kind], n, rate, count)
                        runs[kind].append(res)
                        self.log(f"{n:5d} clients {kind:8s} {rate:5.0f} ev/s  delivered {res['delivered']:,}/"
                                 f"{res['expected']:,}  p50 {fmt(res['p50_ms'])} ms  p99 {fmt(res['p99_ms'])} ms  "
                                 f"max {fmt(res['max_ms'])} ms  server CPU {res['server_cpu_s']:.2f} s  "
                                 f"RSS {fmt(res['server_rss_mb'])} MB" + self.foreign_note(res["foreign_cores"]))
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
            self.results["sse"] = out
        finally:
            for _, proc, reader in servers.values():
                try:
                    reader.send("quit")
                    reader.expect("BYE", 25)
                    proc.wait(timeout=10)
                except (TimeoutError, RuntimeError, OSError, subprocess.TimeoutExpired):
                    self.children.stop(proc)

    def sse_run(self, kind: str, server, n: int, rate: float, count: int) -> dict:
        port, proc, reader = server
        reader.send("newtask")
        task_id = reader.expect("TASK", 10)
        path = f"/api/logs/stream?taskId={task_id}"
        timeout = count / rate + 60
        clients = self.children.spawn(helper_cmd("_sse_clients", port, n, path, count, timeout), CLIENT_CORE,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self.logfile(f"clients-{kind}-{n}"), text=True, bufsize=1)
        creader = LineReader(clients)
        try:
            ready = json.loads(creader.expect("READY", 90))
            if ready["connected"] < n:
                self.log(f"warning: only {ready['connected']}/{n} clients connected ({ready['failed']} failed)")
            time.sleep(0.3)  # let the server settle after the connect burst
            self.wait_quiet()
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
                self.children.stop(clients)
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

    # -- 3. cold start -----------------------------------------------------------------------
    def cold_run(self, name: str, data_dir: Path, wait_warm: bool, env=None) -> dict:
        port = free_port()
        t0 = time.perf_counter()
        proc = self.spawn_stagent(name, data_dir, port, None, env=env)
        first = wait_health(port, 30, proc)
        if first is None:
            raise RuntimeError(f"stagent serve did not answer /api/health:\n{tail(self.tmp / f'{name}.log')}")
        rss_idle = vm_rss_mb(proc.pid)
        markers = ("tiktoken", "tokenizers", "/litellm/")
        at_first = maps_contain(proc.pid, markers)
        log_at_first = (self.tmp / f"{name}.log").read_text(errors="replace")
        res = {"seconds": first - t0, "rss_idle_mb": rss_idle, "litellm_markers_at_first_200": at_first,
               "log_at_first_200": log_at_first}
        res["litellm_done_at_first_200"] = "litellm loaded" in log_at_first
        if wait_warm:
            probes: list[float] = []
            seen = self.wait_warm(proc, name, probe_port=port, probe_latencies=probes)
            probes.sort()
            res["requests_during_warmup"] = {"count": len(probes), "median_ms": statistics.median(probes) * 1000
                                             if probes else None, "max_ms": probes[-1] * 1000 if probes else None}
            res["warmup_done_s"] = None if seen is None else seen - t0
            res["rss_warm_mb"] = vm_rss_mb(proc.pid)
            res["litellm_markers_after_warmup"] = maps_contain(proc.pid, markers)
        res["stop_s"] = self.children.stop(proc)
        return res

    def bench_cold_start(self) -> None:
        print("\n== 3. Cold start: spawn `stagent serve` -> first 200 on /api/health (polled every 10 ms) ==",
              flush=True)
        runs = 2 if self.quick else 3
        fresh, existing = [], []
        existing_dir = self.tmp / "cold-existing"
        for i in range(runs):
            d = self.tmp / f"cold-fresh-{i}"
            r = self.cold_run(f"cold-fresh-{i}", d, wait_warm=(i == 0))
            r.pop("log_at_first_200")
            fresh.append(r)
            self.log(f"fresh    run {i + 1}: {r['seconds']:.3f} s  RSS {r['rss_idle_mb']:.0f} MB"
                     + (f" -> {fmt(r.get('rss_warm_mb'))} MB after warm-up (done at {fmt(r.get('warmup_done_s'), ' s', 2)};"
                        f" {r['requests_during_warmup']['count']} GET /api/projects meanwhile, median "
                        f"{fmt(r['requests_during_warmup']['median_ms'], ' ms')}, max "
                        f"{fmt(r['requests_during_warmup']['max_ms'], ' ms')})"
                        if i == 0 else "") + f"  stop {fmt(r['stop_s'], ' s', 2)}")
            if i == 0:
                shutil.copytree(d, existing_dir)  # a data dir left by a clean stop
        for i in range(runs):
            r = self.cold_run(f"cold-existing-{i}", existing_dir, wait_warm=False)
            r.pop("log_at_first_200")
            existing.append(r)
            self.log(f"existing run {i + 1}: {r['seconds']:.3f} s  RSS {r['rss_idle_mb']:.0f} MB  "
                     f"stop {fmt(r['stop_s'], ' s', 2)}")
        # Baseline: the bare Starlette app (python + uvicorn + starlette imports), same polling.
        bare = []
        for _ in range(runs):
            port = free_port()
            t0 = time.perf_counter()
            proc = self.children.spawn(helper_cmd("_bare_api", port, "-"), None, stdout=subprocess.DEVNULL,
                                       stderr=self.logfile("cold-bare"))
            first = wait_health(port, 30, proc)
            bare.append({"seconds": None if first is None else first - t0, "rss_idle_mb": vm_rss_mb(proc.pid)})
            self.children.stop(proc)
        self.log(f"bare Starlette app: {statistics.median(b['seconds'] for b in bare):.3f} s  "
                 f"RSS {bare[0]['rss_idle_mb']:.0f} MB")
        audit = None
        if not self.quick:
            audit = self.import_audit()
        loaded = any(r["litellm_markers_at_first_200"] or r["litellm_done_at_first_200"] for r in fresh + existing)
        if audit is not None:
            loaded = loaded or audit["litellm_package_imported_before_first_200"]
        self.results["cold_start"] = {
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

    def import_audit(self) -> dict:
        """One extra (untimed) start with -X importtime: which modules were imported before the first 200."""
        env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
        r = self.cold_run("cold-audit", self.tmp / "cold-audit", wait_warm=True, env=env)
        before = parse_importtime(r["log_at_first_200"])
        after = parse_importtime((self.tmp / "cold-audit.log").read_text(errors="replace"))
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
        self.log(f"import audit (-X importtime): {len(before)} modules imported before the first 200; "
                 f"package litellm {'IMPORTED' if 'litellm' in before else 'not imported'} by then "
                 f"({len(litellm_before)} litellm submodules already done by the background warm-up); "
                 f"{len(litellm_after)} litellm modules after warm-up")
        self.log("slowest top-level imports before the first 200: "
                 + ", ".join(f"{m} {us / 1000:.0f} ms" for us, m in top[:6]))
        return audit

    # -- report ------------------------------------------------------------------------------
    def report(self, elapsed: float) -> None:
        R = self.results
        rows: list[tuple] = []  # metric, stagent, baseline, ratio, target, ok, original

        def ok(flag):
            return "-" if flag is None else ("PASS" if flag else "FAIL")

        if "api" in R:
            a = R["api"]
            s, b = a["stagent"], a["bare"]
            rows.append(("API GET /api/tasks/{id} req/s", fmt(s["rps"], "", 0), fmt(b["rps"], "", 0),
                         f"{a['ratio']:.2f}", ">= 0.60", ok(a["ratio"] >= 0.60 and s["non2xx"] == 0),
                         ORIGINAL["api_rps"]))
            rows.append(("API latency p50", fmt(s["p50_ms"], " ms", 1), fmt(b["p50_ms"], " ms", 1),
                         f"{s['p50_ms'] / b['p50_ms']:.2f}", "", "-", ""))
            rows.append(("API latency p99", fmt(s["p99_ms"], " ms", 1), fmt(b["p99_ms"], " ms", 1),
                         f"{s['p99_ms'] / b['p99_ms']:.2f}", "", "-", ORIGINAL["api_p99"]))
            rows.append(("API server CPU per request", fmt(s["server_cpu_us_per_req"], " us", 0),
                         fmt(b["server_cpu_us_per_req"], " us", 0),
                         f"{s['server_cpu_us_per_req'] / b['server_cpu_us_per_req']:.2f}", "", "-", ""))
            # The same ratio from CPU cost, which other load on the machine barely moves.
            rows.append(("API capacity (bare CPU/req / stagent CPU/req)", "", "",
                         f"{b['server_cpu_us_per_req'] / s['server_cpu_us_per_req']:.2f}", "(>= 0.60)", "-", ""))
        if "ingest" in R:
            i = R["ingest"]
            raw = i["raw sqlite3"]["events_per_s"]
            for mode in ("streamed", "burst"):
                r = i[mode]
                rows.append((f"log ingestion ({mode}) events/s", fmt(r["events_per_s"], "", 0), fmt(raw, "", 0),
                             f"{r['events_per_s'] / raw:.2f}", ">= 20,000/s",
                             ok(r["events_per_s"] >= 20_000 and r["stored"] == r["events"]), ""))
        if "sse" in R:
            for n, d in R["sse"].items():
                s, b = d["stagent"], d["bare"]
                ratio = d["p99_ratio"]
                nothing_dropped = s["delivered"] == s["expected"] and s["duplicates"] == 0
                flag = nothing_dropped and ratio is not None and ratio <= 1.5
                if n == "1000":  # the targets are for 1,000 clients; smaller runs: nothing dropped
                    flag = flag and s["p99_ms"] is not None and s["p99_ms"] < 100
                else:
                    flag = None
                target = "<= 1.5x bare, < 100 ms" if n == "1000" else ""
                rows.append((f"SSE {int(n):,} client(s) @ {d['rate']:g} ev/s p99", fmt(s["p99_ms"], " ms", 1),
                             fmt(b["p99_ms"], " ms", 1), "-" if ratio is None else f"{ratio:.2f}", target, ok(flag),
                             ORIGINAL["sse_100_p99"] if n == "100" else ""))
                rows.append(("  p50", fmt(s["p50_ms"], " ms", 1), fmt(b["p50_ms"], " ms", 1),
                             f"{s['p50_ms'] / b['p50_ms']:.2f}" if s["p50_ms"] and b["p50_ms"] else "-", "", "-", ""))
                rows.append(("  delivered/expected", f"{s['delivered']:,}/{s['expected']:,}",
                             f"{b['delivered']:,}/{b['expected']:,}", "", "all", ok(nothing_dropped), ""))
        if "cold_start" in R:
            c = R["cold_start"]
            rows.append(("cold start, fresh data dir (median)", fmt(c["fresh_median_s"], " s", 3),
                         fmt(c["bare_median_s"], " s", 3), f"{c['fresh_median_s'] / c['bare_median_s']:.2f}",
                         "< 1.5 s", ok(c["fresh_median_s"] < 1.5), ORIGINAL["cold_start"]))
            rows.append(("cold start, existing data dir (median)", fmt(c["existing_median_s"], " s", 3),
                         fmt(c["bare_median_s"], " s", 3), f"{c['existing_median_s'] / c['bare_median_s']:.2f}",
                         "< 1.5 s", ok(c["existing_median_s"] < 1.5), ORIGINAL["cold_start"]))
            rows.append(("litellm imported before first 200", "yes" if c["litellm_loaded_before_first_200"] else "no",
                         "", "", "no", ok(not c["litellm_loaded_before_first_200"]), ""))
            probe = c.get("requests_during_warmup") or {}
            if probe.get("count"):
                rows.append(("GET /api/projects during warm-up, max", fmt(probe["max_ms"], " ms", 1),
                             "", "", "", "-", "0.4-0.9 s (next request)"))
            rows.append(("RSS idle at first 200", fmt(c["rss_idle_mb"], " MB", 0), fmt(c["bare_rss_idle_mb"], " MB", 0),
                         "", "", "-", ORIGINAL["rss_idle"]))
            # Warm-up confirmed by the daemon's log line or by litellm's native deps being mapped.
            warm_ok = (c["rss_warm_mb"] is not None and c["rss_warm_mb"] < 300
                       and (c["warmup_done_s"] is not None or bool(c["litellm_markers_after_warmup"])))
            rows.append(("RSS after litellm warm-up", fmt(c["rss_warm_mb"], " MB", 0), "", "", "< 300 MB",
                         ok(warm_ok), ORIGINAL["rss_idle"]))
        headers = ("metric", "stagent", "baseline", "ratio", "target", "", "original Stagent")
        widths = [max(len(str(r[k])) for r in [headers, *rows]) for k in range(len(headers))]
        print("\n== Summary (baseline = bare Starlette / sse-starlette / raw sqlite3, same run) ==")
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        print(line)
        print("-" * len(line))
        for r in rows:
            print("  ".join(str(v).ljust(w) if k in (0, 4, 5, 6) else str(v).rjust(w)
                            for k, (v, w) in enumerate(zip(r, widths, strict=True))))
        worst = self.results.get("max_foreign_cores", 0.0)
        if worst >= 0.2:
            print(f"\nWARNING: other processes used up to {worst:.2f} cores during a measurement; on a 2-core"
                  " machine that depresses and scatters the figures. Rerun on an idle machine to compare.")
        print(f"\nTotal bench time {elapsed:.0f} s. 'original Stagent' = the Next.js original measured on this kind of"
              " machine (other wrk settings; for orientation only).")
        self.results["table"] = [dict(zip(("metric", "stagent", "baseline", "ratio", "target", "result", "original"), r, strict=True))
                                 for r in rows]

    def write_json(self, elapsed: float) -> Path:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = RESULTS_DIR / f"bench-{stamp}{'-quick' if self.quick else ''}.json"
        doc = {"started": stamp, "quick": self.quick, "elapsed_s": elapsed, "machine": machine(),
               "results": self.results}
        out.write_text(json.dumps(doc, indent=2, default=str))
        shutil.copyfile(out, RESULTS_DIR / "latest.json")
        return out


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


def machine() -> dict:
    def sqlite_version():
        return sqlite3.sqlite_version

    versions = {}
    for mod in ("uvicorn", "starlette", "sse_starlette", "aiosqlite", "uvloop", "httptools"):
        try:
            from importlib.metadata import version
            versions[mod] = version(mod.replace("_", "-"))
        except Exception:
            versions[mod] = None
    wrk = shutil.which("wrk")
    wrk_v = None
    if wrk:
        try:
            wrk_v = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5).stdout.split("[")[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {"nproc": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "python": platform.python_version(),
            "platform": platform.platform(), "sqlite": sqlite_version(), "packages": versions, "wrk": wrk_v,
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}


def main() -> int:
    roles = {"_bare_api": role_bare_api, "_loadgen": role_loadgen, "_sse_server": role_sse_server,
             "_sse_clients": role_sse_clients, "_ingest": role_ingest}
    if len(sys.argv) > 1 and sys.argv[1] in roles:
        roles[sys.argv[1]](sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (well under a minute)")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load generator even if wrk exists")
    parser.add_argument("--only", choices=("api", "ingest", "sse", "cold"), action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args()
    raise_nofile()

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # run the finally blocks: every child is stopped

    signal.signal(signal.SIGTERM, on_sigterm)
    m = machine()
    print(f"stagent bench{' --quick' if args.quick else ''}: {m['nproc']} CPUs (affinity {m['affinity']}), "
          f"Python {m['python']}, SQLite {m['sqlite']}, {m['platform']}")
    print(f"  uvicorn {m['packages']['uvicorn']}, starlette {m['packages']['starlette']}, sse-starlette "
          f"{m['packages']['sse_starlette']}, uvloop {m['packages']['uvloop']}, httptools {m['packages']['httptools']}, "
          f"wrk: {m['wrk'] or 'missing (Python load generator)'}; fd limit {m['nofile']}")
    if (m["nproc"] or 1) < 2:
        print("  warning: fewer than 2 CPUs; server and load share a core")
    if not STAGENT_BIN.exists():
        print(f"error: {STAGENT_BIN} not found; run from the project's .venv", file=sys.stderr)
        return 2
    probe = ForeignLoad()
    probe.start()
    time.sleep(1.0)
    background = probe.stop()
    print(f"  other processes on this machine used {background:.2f} cores in the last second"
          + ("  (WARNING: the machine is not idle; figures will be noisy)" if background >= 0.1 else ""))
    bench = Bench(args.quick)
    if args.no_wrk:
        bench.wrk = None
    bench.results["background_cores_at_start"] = background
    t0 = time.perf_counter()
    parts = args.only or ["api", "ingest", "sse", "cold"]
    failed = False
    try:
        for part, fn in (("api", bench.bench_api), ("ingest", bench.bench_ingest), ("sse", bench.bench_sse),
                         ("cold", bench.bench_cold_start)):
            if part in parts:
                try:
                    fn()
                except Exception as exc:  # report what ran; the others still run
                    failed = True
                    print(f"  !! {part} failed: {type(exc).__name__}: {exc}", flush=True)
                    bench.results.setdefault("errors", {})[part] = f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        failed = True
    finally:
        bench.children.stop_all()
    elapsed = time.perf_counter() - t0
    bench.report(elapsed)
    out = bench.write_json(elapsed)
    print(f"JSON summary: {out.relative_to(ROOT)}")
    shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

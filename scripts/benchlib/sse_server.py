"""Helper role `_sse_server KIND PORT DATA_DIR [nollm]`: an SSE server with its event producer in one
process (core 0), driven by commands on stdin. KIND is `stagent` (the real app, in process, served as
`stagent serve` serves it) or `bare` (a bare sse-starlette fan-out, the baseline).

stdin commands and the stdout lines they answer with: `newtask` -> `TASK <id>`; `subs` -> `SUBS <n>`;
`produce <task> <rate> <count>` -> `PRODUCED {json}`; `stats` -> `STATS {json}`; `quit` -> `BYE`.
`READY` is printed once the server is up (and, for stagent, litellm is warm)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

from .common import TEXT_CHUNK, raise_nofile, run_event_loop
from .probes import cpu_seconds, vm_rss_mb


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
            from stagent.engine.agent import llm
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

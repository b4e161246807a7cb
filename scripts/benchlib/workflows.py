"""7. Workflows: 20 parallel workflows of 5 branches (+ a synthesis step) running at once in a
real `stagent serve` (core 0) against a fake provider (core 1).

Every step is a real task: the runner, litellm, the log bus, the step-state transactions. The
provider answers each request after PROVIDER_DELAY and streams a short text; it records when
each request arrived and when its stream ended, and how many requests it served at once (in
total and per workflow; a step's title names its workflow).

- Overhead per step = the step's wall time in stagent (its state's startedAt → completedAt:
  task created and started, the provider called and streamed, the result and state committed)
  minus the time the provider spent on its request.
- Of that, the workflow engine's own share: step started → its task's `started` line, plus its
  task's `completed` line → step completed (the rest is the task runner and litellm).
- Baseline, same run, same core, same provider: the same 120 requests (same messages and tool
  schemas as a step's task) sent straight through litellm.acompletion with the same shape of
  concurrency (20 groups, 3 branches at a time, then a synthesis). Its overhead per request is
  the floor any caller of litellm pays under that load; stagent's figure minus it is what the
  runner and the engine add.
- Concurrency: the most requests in flight at once, overall and per workflow (limit 3).

Helper roles (run as `python -c` by this module): the counting fake provider on PORT, and the
direct-litellm baseline against it.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime

from .common import CLIENT_CORE, ROOT, SCRIPTS_DIR, SERVER_CORE, fmt, free_port, last_json_line, percentile, tail
from .daemon import spawn_stagent, wait_warm
from .httpclient import wait_health
from .probes import cpu_seconds
from .session import BenchSession

WORKFLOWS, BRANCHES, LIMIT = 20, 5, 3
PROVIDER_DELAY = 0.25  # seconds before a reply starts: a stand-in for a model's latency
SLOW_PROVIDER_DELAY = 2.0  # the same batch against a slower model: launch pace no longer matters
REPLY = "Branch findings: three points worth merging."
WARM_UP = 99  # the warm-up workflow's number (left out of the figures)


def role_workflow_provider(argv: list[str]) -> None:
    port = int(argv[0])
    sys.path.insert(0, str(ROOT))
    import uvicorn
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.fakes.provider import FakeProvider, Reply

    class Counting(FakeProvider):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()
            self.in_flight: dict[str, int] = {}
            self.max_in_flight: dict[str, int] = {}
            self.total = self.max_total = 0
            self.served: list[dict] = []
            self.app.routes.append(Route("/stats", self.stats, methods=["GET"]))
            self.app.routes.append(Route("/delay", self.set_delay, methods=["POST"]))
            self.delay = PROVIDER_DELAY

        def _next(self):
            return Reply("text", text=REPLY, delay=self.delay)

        async def set_delay(self, request):
            self.delay = float((await request.json())["delay"])
            return JSONResponse({"delay": self.delay})

        async def stats(self, request):
            body = {"maxInFlight": self.max_total, "maxPerWorkflow": self.max_in_flight, "served": self.served}
            self.total = self.max_total = 0
            self.in_flight, self.max_in_flight, self.served = {}, {}, []
            return JSONResponse(body)

        def _count(self, workflow: str, delta: int) -> None:
            with self.lock:
                self.total += delta
                self.max_total = max(self.max_total, self.total)
                self.in_flight[workflow] = self.in_flight.get(workflow, 0) + delta
                self.max_in_flight[workflow] = max(self.max_in_flight.get(workflow, 0), self.in_flight[workflow])

        async def _chat(self, request):
            body = json.loads(await request.body())
            prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
            step = prompt.split("\n", 1)[0].removeprefix("[Workflow] ")
            workflow = step.split("-", 1)[0]
            started = time.time()
            self._count(workflow, 1)
            response = await super()._chat(request)
            chunks = response.body_iterator

            async def tracked():
                try:
                    async for chunk in chunks:
                        yield chunk
                finally:
                    self._count(workflow, -1)
                    self.served.append({"step": step, "start": started, "end": time.time()})

            response.body_iterator = tracked()
            return response

    uvicorn.run(Counting().app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def role_litellm_baseline(argv: list[str]) -> None:
    """The same requests as the workflows' steps, straight through litellm; prints RESULT {calls}."""
    provider_url = argv[0]
    sys.path.insert(0, str(ROOT))
    from stagent.engine.agent import llm, tools
    from stagent.engine.tasks.runner import SYSTEM_PROMPT

    async def main() -> list[dict]:
        litellm = await llm.ensure_loaded()
        schemas = tools.schemas(None)

        async def call(name: str) -> dict:
            messages = [{"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": f"[Workflow] {name}\n\nResearch angle."}]
            start = time.time()
            response = await litellm.acompletion(model="openai/fake", api_base=provider_url, api_key="sk-bench",
                                                 messages=messages, tools=schemas, stream=True,
                                                 stream_options={"include_usage": True}, max_retries=0)
            async for _chunk in response:
                pass
            return {"step": name, "start": start, "end": time.time()}

        async def group(i: int) -> list[dict]:
            limit = asyncio.Semaphore(LIMIT)

            async def branch(j: int) -> dict:
                async with limit:
                    return await call(f"base{i:02d}-b{j}")

            calls = list(await asyncio.gather(*(branch(j) for j in range(1, BRANCHES + 1))))
            return [*calls, await call(f"base{i:02d}-join")]

        await group(WARM_UP)
        light = [c for i in (50, 51, 52) for c in await group(i)]
        cpu0 = time.process_time()
        calls = [c for calls in await asyncio.gather(*(group(i) for i in range(WORKFLOWS))) for c in calls]
        return {"calls": calls, "light": light, "cpuMs": (time.process_time() - cpu0) * 1000}

    print("RESULT " + json.dumps(asyncio.run(main())), flush=True)


def _python(session: BenchSession, code: str, core: str, name: str, **kw) -> subprocess.Popen:
    prelude = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(SCRIPTS_DIR)!r}]; "
    return session.children.spawn([sys.executable, "-c", prelude + code], core, stderr=session.logfile(name),
                                  stdin=subprocess.DEVNULL, **kw)


def _definition(index: int) -> dict:
    tag = f"wf{index:02d}"
    branches = [{"id": f"b{i}", "name": f"{tag}-b{i}", "prompt": "Research angle."} for i in range(1, BRANCHES + 1)]
    join = {"id": "join", "name": f"{tag}-join", "prompt": "Merge the branches.",
            "dependsOn": [b["id"] for b in branches]}
    return {"pattern": "parallel", "steps": [*branches, join]}


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


async def _create(client, index: int) -> str:
    r = await client.post("/api/workflows", json={"name": f"bench {index}", "definition": _definition(index)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _run_all(client, ids: list[str]) -> None:
    """Start every workflow at once; wait until all have ended (one list request every 50 ms)."""
    started = await asyncio.gather(*(client.post(f"/api/workflows/{w}/execute") for w in ids))
    assert all(r.status_code == 202 for r in started), [r.text for r in started]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = {w["id"]: w["status"] for w in (await client.get("/api/workflows")).json()}
        if all(statuses[w] in ("completed", "failed") for w in ids):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the workflows did not finish within 120 s")


async def _provider_stats(provider_port: int) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{provider_port}", timeout=30) as provider:
        return (await provider.get("/stats")).json()


async def _batch(client, provider_port: int, pid: int, groups: list[list[int]]) -> dict:
    """Run each group of workflows at once (groups one after another); the per-step figures."""
    batches = [[await _create(client, i) for i in group] for group in groups]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    window = asyncio.ensure_future(_cpu_during(pid, PROVIDER_DELAY))
    for ids in batches:
        await _run_all(client, ids)
    launch_cpu = await window
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    states = [(await client.get(f"/api/workflows/{w}/status")).json() for ids in batches for w in ids]
    lines = {}
    for workflow in states:
        for step in workflow["steps"]:
            if step["state"].get("taskId"):
                timeline = (await client.get(f"/api/tasks/{step['state']['taskId']}/provenance")).json()["timeline"]
                lines[step["name"]] = {e["event"]: e["timestamp"] for e in timeline if e["type"] == "log"}
    stats = await _provider_stats(provider_port)
    served = {s["step"]: s for s in stats["served"]}
    overheads, engine, failed = [], [], 0
    for workflow in states:
        failed += workflow["status"] != "completed"
        for step in workflow["steps"]:
            state, call, log = step["state"], served.get(step["name"]), lines.get(step["name"], {})
            if state.get("status") != "completed" or call is None:
                continue
            overheads.append(_ms(state["completedAt"]) - _ms(state["startedAt"]) - (call["end"] - call["start"]) * 1000)
            if "started" in log and "completed" in log:
                engine.append(_ms(log["started"]) - _ms(state["startedAt"])
                              + _ms(state["completedAt"]) - _ms(log["completed"]))
    per_workflow = list(stats["maxPerWorkflow"].values())
    return {"arrivals": _arrivals(stats["served"]), "launch_window_cpu_ms": launch_cpu, "steps": len(overheads), "failed_workflows": failed, "wall_s": wall,
            "cpu_ms_per_step": cpu * 1000 / max(1, len(overheads)),
            "overhead": _summary(overheads), "engine": _summary(engine),
            "max_in_flight": stats["maxInFlight"], "per_workflow_max": [min(per_workflow, default=0),
                                                                         max(per_workflow, default=0)]}


async def _set_delay(provider_port: int, delay: float) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{provider_port}", timeout=30) as provider:
        (await provider.post("/delay", json={"delay": delay})).raise_for_status()


async def _stagent(port: int, provider_port: int, pid: int) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        await _batch(client, provider_port, pid, [[WARM_UP]])  # litellm's and the provider's first-use costs
        light = await _batch(client, provider_port, pid, [[50], [51], [52]])  # one workflow at a time
        full = await _batch(client, provider_port, pid, [list(range(WORKFLOWS))])
        # The same batch against a slow model: every step's call is sent before the first
        # answer, so this counts the engine's concurrency limit (3 per workflow, all at once)
        # apart from how fast 60 steps are launched (which the 250 ms figure also measures).
        await _set_delay(provider_port, SLOW_PROVIDER_DELAY)
        slow = await _batch(client, provider_port, pid, [list(range(100, 100 + WORKFLOWS))])
        await _set_delay(provider_port, PROVIDER_DELAY)
    return {**full, "light": light, "slow": {"max_in_flight": slow["max_in_flight"],
                                             "per_workflow_max": slow["per_workflow_max"]}}


async def _cpu_during(pid: int, seconds: float) -> float | None:
    """The daemon's CPU milliseconds over the next `seconds` (the first wave's launch window)."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    after = cpu_seconds(pid)
    return None if None in (before, after) else (after - before) * 1000


def _arrivals(served: list[dict]) -> dict:
    starts = sorted(s["start"] for s in served)
    wave = WORKFLOWS * LIMIT
    return {"first_wave_spread_ms": (starts[wave - 1] - starts[0]) * 1000 if len(starts) >= wave else None,
            "gaps_ms": [round((b - a) * 1000, 1) for a, b in zip(starts, starts[1:wave], strict=False)]}


def _summary(values: list[float]) -> dict:
    values = sorted(values)
    return {"mean_ms": statistics.fmean(values) if values else None, "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99)}


def _baseline(session: BenchSession, provider_port: int) -> dict:
    code = (f"from benchlib.workflows import role_litellm_baseline; "
            f"role_litellm_baseline([{f'http://127.0.0.1:{provider_port}/v1'!r}])")
    proc = _python(session, code, SERVER_CORE, "workflows-baseline", stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=180)
    result = last_json_line(out or "")
    if result is None:
        raise RuntimeError(f"the litellm baseline failed:\n{tail(session.tmp / 'workflows-baseline.log')}")
    stats = asyncio.run(_provider_stats(provider_port))
    served = {s["step"]: s for s in stats["served"]}

    def overheads(calls: list[dict]) -> list[float]:
        return [(c["end"] - c["start"] - (served[c["step"]]["end"] - served[c["step"]]["start"])) * 1000
                for c in calls if c["step"] in served]

    return {"arrivals": _arrivals([s for s in stats["served"] if not s["step"].startswith(("base99", "base5"))]),
            "requests": len(result["calls"]), "overhead": _summary(overheads(result["calls"])),
            "light": {"overhead": _summary(overheads(result["light"]))}, "max_in_flight": stats["maxInFlight"],
            "cpu_ms_per_request": result["cpuMs"] / max(1, len(result["calls"]))}


def measure(session: BenchSession) -> None:
    print(f"\n== 6. Workflows: {WORKFLOWS} parallel workflows x {BRANCHES} branches (+ synthesis) at once ==",
          flush=True)
    provider_port, port = free_port(), free_port()
    provider = _python(session, f"from benchlib.workflows import role_workflow_provider; "
                                f"role_workflow_provider([{str(provider_port)!r}])", CLIENT_CORE,
                       "workflows-provider", stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while wait_health(provider_port, 0.2, path="/stats") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_API_BASE": f"http://127.0.0.1:{provider_port}/v1",
               "STAGENT_DEFAULT_MODEL": "openai/fake"}
        proc = spawn_stagent(session, "workflows", session.tmp / "workflows-data", port, SERVER_CORE, env=env)
        if wait_health(port, 30, proc) is None:
            raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'workflows.log')}")
        wait_warm(session, proc, "workflows")
        session.wait_quiet()
        res = asyncio.run(_stagent(port, provider_port, proc.pid))
        session.children.stop(proc)
        session.wait_quiet()
        res["baseline"] = _baseline(session, provider_port)
    finally:
        session.children.stop(provider)
    res.update(workflows=WORKFLOWS, branches=BRANCHES, provider_delay_ms=PROVIDER_DELAY * 1000)
    added = [res["overhead"][k] - res["baseline"]["overhead"][k] for k in ("mean_ms", "p50_ms")]
    res["added_mean_ms"], res["added_p50_ms"] = added
    session.results["workflows"] = res
    o, b, e = res["overhead"], res["baseline"]["overhead"], res["engine"]
    session.log(f"{res['workflows']} workflows, {res['steps']} steps in {res['wall_s']:.2f} s "
                f"({res['failed_workflows']} failed); provider {res['provider_delay_ms']:.0f} ms per request")
    session.log(f"stagent minus provider, per step: mean {fmt(o['mean_ms'], ' ms')}, p50 {fmt(o['p50_ms'], ' ms')}, "
                f"p99 {fmt(o['p99_ms'], ' ms')}")
    session.log(f"direct litellm minus provider, same load (baseline): mean {fmt(b['mean_ms'], ' ms')}, "
                f"p50 {fmt(b['p50_ms'], ' ms')}, p99 {fmt(b['p99_ms'], ' ms')}")
    session.log(f"added by stagent (runner + engine) per step: mean {added[0]:.1f} ms, p50 {added[1]:.1f} ms; "
                f"the workflow engine's own share: mean {fmt(e['mean_ms'], ' ms')}, p50 {fmt(e['p50_ms'], ' ms')}")
    res["added_cpu_ms_per_step"] = res["cpu_ms_per_step"] - res["baseline"]["cpu_ms_per_request"]
    session.log(f"CPU per step: stagent {res['cpu_ms_per_step']:.1f} ms, direct litellm "
                f"{res['baseline']['cpu_ms_per_request']:.1f} ms per request: stagent adds "
                f"{res['added_cpu_ms_per_step']:.1f} ms (runner, engine, log and state writes, the bench's polling)")
    lo, le, lb = res["light"]["overhead"], res["light"]["engine"], res["baseline"]["light"]["overhead"]
    res["light"]["added_p50_ms"] = lo["p50_ms"] - lb["p50_ms"]
    session.log(f"light load (one workflow at a time, 3 runs): stagent minus provider p50 {fmt(lo['p50_ms'], ' ms')}, "
                f"direct litellm p50 {fmt(lb['p50_ms'], ' ms')}: added {res['light']['added_p50_ms']:.1f} ms; "
                f"the engine's own share p50 {fmt(le['p50_ms'], ' ms')} (mean {fmt(le['mean_ms'], ' ms')})")
    session.log(f"concurrency: {res['max_in_flight']} provider requests at once (baseline "
                f"{res['baseline']['max_in_flight']}); per workflow {res['per_workflow_max'][0]}-"
                f"{res['per_workflow_max'][1]} (limit {LIMIT}); with a {SLOW_PROVIDER_DELAY:.0f} s provider "
                f"{res['slow']['max_in_flight']} at once, per workflow {res['slow']['per_workflow_max'][0]}-"
                f"{res['slow']['per_workflow_max'][1]}")
    spread, base_spread = res["arrivals"]["first_wave_spread_ms"], res["baseline"]["arrivals"]["first_wave_spread_ms"]
    session.log(f"the first {WORKFLOWS * LIMIT} calls reached the provider within {fmt(spread, ' ms')} of the first "
                f"(direct litellm {fmt(base_spread, ' ms')}); all {WORKFLOWS * LIMIT} are in flight together only "
                f"if that is under the provider's {PROVIDER_DELAY * 1000:.0f} ms")
    busy = (res["launch_window_cpu_ms"] or 0) / (PROVIDER_DELAY * 1000)
    session.log(f"the daemon used {fmt(res['launch_window_cpu_ms'], ' ms')} of CPU in the first "
                f"{PROVIDER_DELAY * 1000:.0f} ms of the batch ({busy:.0%} of one core)"
                + (": the launches are CPU-bound (mostly litellm's per-call work, docs/benchmarks.md)"
                   if busy >= 0.9 else ""))

"""5. Chat: what stagent adds to one streamed reply, and context stats on a long conversation.

Reply: a real `stagent serve` (core 0) answers POST /api/chat/conversations/{id}/messages (SSE)
from the scripted fake provider of tests/fakes/provider.py, run as its own process (core 1).
The baseline, in the same run, is a direct `litellm.acompletion(stream=True)` from this process
to the same provider with the same system prompt, user message and tool schemas. Each reply is
20 deltas; the provider waits FIRST_TOKEN_DELAY before the first and CHUNK_DELAY between them, a
modest stand-in for a real model's pace (the added milliseconds are the figure that does not
depend on it). Every sample uses a new conversation, so each prompt is the same size.

Context stats: a 500-message conversation written through the store (token counts cached as a
turn caches them), then ConversationEngine.context_stats timed in this process, next to the
cost of tokenising the same history from scratch.

Helper role (`bench.py _fake_provider PORT`, or run as `python -c` by this module):
the fake provider with every reply the same 20-delta text.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time

from .common import CLIENT_CORE, ROOT, SCRIPTS_DIR, SERVER_CORE, TEXT_CHUNK, fmt, free_port, tail
from .daemon import spawn_stagent, wait_warm
from .httpclient import wait_health
from .session import BenchSession

DELTAS = 20
FIRST_TOKEN_DELAY = 0.040  # seconds before the provider's first chunk
CHUNK_DELAY = 0.004        # seconds between its chunks
REPLY = (TEXT_CHUNK[:8] * DELTAS)  # the fake streams 8 characters per chunk: DELTAS deltas
MESSAGES = 500


def role_fake_provider(argv: list[str]) -> None:
    port = int(argv[0])
    sys.path.insert(0, str(ROOT))
    import uvicorn

    from tests.fakes.provider import FakeProvider, Reply

    fake = FakeProvider()
    fake._next = lambda: Reply("text", text=REPLY, delay=FIRST_TOKEN_DELAY, chunk_delay=CHUNK_DELAY)
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def _spawn_provider(session: BenchSession, port: int) -> subprocess.Popen:
    code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(SCRIPTS_DIR)!r}]; "
            f"from benchlib.chat import role_fake_provider; role_fake_provider([{str(port)!r}])")
    return session.children.spawn([sys.executable, "-c", code], CLIENT_CORE, stdout=subprocess.DEVNULL,
                                  stderr=session.logfile("chat-provider"), stdin=subprocess.DEVNULL)


def _wait_port(port: int, timeout: float = 15.0) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the fake provider did not listen on {port}")


async def _stagent_reply(client, conversation_id: str) -> tuple[float, float]:
    """(seconds to the first delta event, seconds to the done event) of one streamed reply."""
    import json

    t0 = time.perf_counter()
    first = None
    async with client.stream("POST", f"/api/chat/conversations/{conversation_id}/messages",
                             json={"content": "Say something."}) as r:
        assert r.status_code == 200, await r.aread()
        async for line in r.aiter_lines():
            if not line.startswith("data:"):
                continue
            kind = json.loads(line[5:])["type"]
            if kind == "delta" and first is None:
                first = time.perf_counter() - t0
            elif kind in ("done", "error"):
                assert kind == "done", line
                return first, time.perf_counter() - t0
    raise RuntimeError("the stream ended without done")


async def _direct_reply(litellm, base_url: str, messages: list[dict], tools: list[dict]) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    response = await litellm.acompletion(model="openai/fake", api_base=base_url, api_key="sk-bench",
                                         messages=messages, tools=tools, stream=True,
                                         stream_options={"include_usage": True}, max_retries=0)
    async for chunk in response:
        if chunk.choices and chunk.choices[0].delta is not None and chunk.choices[0].delta.content:
            if first is None:
                first = time.perf_counter() - t0
    return first, time.perf_counter() - t0


async def _replies(port: int, provider_url: str, samples: int) -> dict:
    import httpx

    from stagent.engine.agent import llm
    from stagent.engine.chat import chat_tools
    from stagent.engine.chat.conversation import MODE_PROMPTS, PERSONALITIES

    litellm = await llm.ensure_loaded()
    system = MODE_PROMPTS["chat"] + "\n\n" + PERSONALITIES["professional"]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Say something."}]
    tools = chat_tools.CHAT_TOOLS.schemas()
    stagent, direct = [], []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for i in range(samples + 2):  # the first two of each warm connections and caches
            conv = (await client.post("/api/chat/conversations", json={"runtimeId": "openai-direct"})).json()
            s = await _stagent_reply(client, conv["id"])
            d = await _direct_reply(litellm, provider_url, messages, tools)
            if i >= 2:
                stagent.append(s)
                direct.append(d)
    med = statistics.median
    out = {"samples": samples,
           "stagent_first_ms": med(s[0] for s in stagent) * 1000, "stagent_total_ms": med(s[1] for s in stagent) * 1000,
           "direct_first_ms": med(d[0] for d in direct) * 1000, "direct_total_ms": med(d[1] for d in direct) * 1000}
    out["added_first_ms"] = out["stagent_first_ms"] - out["direct_first_ms"]
    out["added_total_ms"] = out["stagent_total_ms"] - out["direct_total_ms"]
    out["ratio_first"] = out["stagent_first_ms"] / out["direct_first_ms"]
    out["ratio_total"] = out["stagent_total_ms"] / out["direct_total_ms"]
    return out


async def _context_stats(data_dir) -> dict:
    from stagent.db import Database
    from stagent.db.migrations import migrate
    from stagent.engine.agent import llm
    from stagent.engine.chat import context
    from stagent.engine.chat.conversation import ConversationEngine
    from stagent.engine.governance.budgets import Budgets
    from stagent.store import conversations as store

    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    os.environ.setdefault("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")
    await llm.ensure_loaded()
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "stagent.db")
    await db.open()
    try:
        await db.write_raw(migrate)
        engine = ConversationEngine(db, None, None, Budgets(db))
        conv = await engine.create()
        model = "openai/gpt-4o-mini"
        history = []
        for i in range(MESSAGES):
            role = "user" if i % 2 == 0 else "assistant"
            history.append({"role": role, "content": f"Message {i}: " + TEXT_CHUNK * 3})

        def seed(conn):
            for message in history:
                store.insert_message(conn, conv["id"], {**message, "token_count": context.count(model, [message])})

        await db.write(seed)
        timings = []
        for _ in range(52):
            t0 = time.perf_counter()
            stats = await engine.context_stats(conv["id"])
            timings.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        context.count(model, history)
        from_scratch = time.perf_counter() - t0
        timings = sorted(timings[2:])
        return {"messages": MESSAGES, "total_tokens": stats["totalTokens"],
                "p50_ms": statistics.median(timings) * 1000, "max_ms": timings[-1] * 1000,
                "tokenize_all_ms": from_scratch * 1000}
    finally:
        await db.close()


def measure(session: BenchSession) -> None:
    print("\n== 5. Chat: one streamed reply through stagent vs a direct litellm call; context stats ==", flush=True)
    samples = 10 if session.quick else 30
    provider_port, port = free_port(), free_port()
    provider = _spawn_provider(session, provider_port)
    try:
        _wait_port(provider_port)
        provider_url = f"http://127.0.0.1:{provider_port}/v1"
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_API_BASE": provider_url,
               "STAGENT_DEFAULT_MODEL": "openai/fake"}
        proc = spawn_stagent(session, "chat", session.tmp / "chat-data", port, SERVER_CORE, env=env)
        if wait_health(port, 30, proc) is None:
            raise RuntimeError(f"stagent did not start:\n{tail(session.tmp / 'chat.log')}")
        wait_warm(session, proc, "chat")
        # Chat tools ask before they run; these replies call none, so nothing waits.
        session.wait_quiet()
        reply = asyncio.run(_replies(port, provider_url, samples))
        session.children.stop(proc)
    finally:
        session.children.stop(provider)
    ctx = asyncio.run(_context_stats(session.tmp / "chat-context"))
    session.results["chat"] = {"reply": reply, "context": ctx}
    session.log(f"first token: stagent {reply['stagent_first_ms']:.1f} ms, direct {reply['direct_first_ms']:.1f} ms "
                f"(+{reply['added_first_ms']:.1f} ms, {reply['ratio_first']:.3f}x)")
    session.log(f"whole reply: stagent {reply['stagent_total_ms']:.1f} ms, direct {reply['direct_total_ms']:.1f} ms "
                f"(+{reply['added_total_ms']:.1f} ms, {reply['ratio_total']:.3f}x)")
    session.log(f"context stats on {ctx['messages']} messages ({fmt(ctx['total_tokens'])} tokens): "
                f"p50 {ctx['p50_ms']:.2f} ms, max {ctx['max_ms']:.2f} ms "
                f"(tokenising the history from scratch: {ctx['tokenize_all_ms']:.1f} ms)")

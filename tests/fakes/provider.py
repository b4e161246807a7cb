"""A scripted OpenAI-compatible chat-completions server for tests, served on loopback.

Each request to POST /v1/chat/completions takes the next scripted reply (or "ok" when the
script is empty). Replies: text (streamed in small chunks when the client streams), tool
calls, HTTP errors (with headers such as Retry-After), a malformed stream, delays, and a
reply held until the test releases it (`gate`).
`requests` keeps every request body for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    kind: str  # text | tools | error | malformed | hang
    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0        # before the reply starts
    chunk_delay: float = 0.0  # between streamed chunks
    usage: tuple[int, int] = (11, 7)
    gate: threading.Event | None = None  # the reply is held until the test sets it


class FakeProvider:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ])
        self.server = None

    # ---- scripting -------------------------------------------------------------------
    def enqueue_text(self, text: str, *, chunk_delay: float = 0.0, delay: float = 0.0,
                     usage: tuple[int, int] = (11, 7), gate: threading.Event | None = None) -> None:
        self._push(Reply("text", text=text, chunk_delay=chunk_delay, delay=delay, usage=usage, gate=gate))

    def enqueue_tool_call(self, name: str, arguments: dict, *, call_id: str | None = None,
                          text: str = "") -> None:
        self.enqueue_tool_calls([(name, arguments, call_id)], text=text)

    def enqueue_tool_calls(self, calls: list[tuple], *, text: str = "") -> None:
        tool_calls = [{"id": cid or f"call_{i}", "name": name, "arguments": json.dumps(args)}
                      for i, (name, args, cid) in enumerate(calls)]
        self._push(Reply("tools", text=text, tool_calls=tool_calls))

    def enqueue_error(self, status: int, message: str = "provider error", *, headers: dict | None = None) -> None:
        self._push(Reply("error", status=status, text=message, headers=headers or {}))

    def enqueue_malformed(self) -> None:
        self._push(Reply("malformed"))

    def enqueue_hang(self, text: str = "still going", chunk_delay: float = 0.2, chunks: int = 300) -> None:
        """A long stream: `chunks` pieces `chunk_delay` apart (for cancel and kill tests)."""
        self._push(Reply("text", text=" ".join([text] * chunks), chunk_delay=chunk_delay))

    def _push(self, reply: Reply) -> None:
        with self._lock:
            self.script.append(reply)

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else Reply("text", text="ok")

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    # ---- serving ---------------------------------------------------------------------
    async def _models(self, request: Request):
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _chat(self, request: Request):
        body = await request.json()
        with self._lock:
            self.requests.append(body)
        reply = self._next()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.gate is not None:
            await asyncio.to_thread(reply.gate.wait, 60)
        if reply.kind == "error":
            return JSONResponse({"error": {"message": reply.text, "type": "fake_error", "code": reply.status}},
                                status_code=reply.status, headers=reply.headers)
        model = body.get("model", "fake")
        if not body.get("stream"):
            return JSONResponse(_full_response(model, reply))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(_stream(model, reply, include_usage), media_type="text/event-stream")


def _chunk(model: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
    payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        payload["choices"] = []
        payload["usage"] = usage
    return "data: " + json.dumps(payload) + "\n\n"


def _usage(reply: Reply) -> dict:
    p, c = reply.usage
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


async def _stream(model: str, reply: Reply, include_usage: bool):
    if reply.kind == "malformed":
        yield "data: {this is not json\n\n"
        return
    yield _chunk(model, {"role": "assistant", "content": ""})
    text = reply.text
    for i in range(0, len(text), 8):
        if reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)
        yield _chunk(model, {"content": text[i:i + 8]})
    for index, call in enumerate(reply.tool_calls):
        yield _chunk(model, {"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": call["name"], "arguments": ""}}]})
        args = call["arguments"]
        for i in range(0, len(args), 7):
            yield _chunk(model, {"tool_calls": [{"index": index, "function": {"arguments": args[i:i + 7]}}]})
    yield _chunk(model, {}, finish="tool_calls" if reply.tool_calls else "stop")
    if include_usage:
        yield _chunk(model, {}, usage=_usage(reply))
    yield "data: [DONE]\n\n"


def _full_response(model: str, reply: Reply) -> dict:
    message: dict = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": c["arguments"]}}
                                 for c in reply.tool_calls]
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": _usage(reply)}

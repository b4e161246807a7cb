"""A loopback HTTP server that stands in for webhooks, Slack and the Telegram bot API."""

from __future__ import annotations

import json
import threading

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.helpers.servers import ThreadedServer


class Receiver:
    """A loopback HTTP server that records every request and answers from a script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, object]]] = {}  # path suffix -> answers, in order
        self.lock = threading.Lock()
        self.server = ThreadedServer(Starlette(routes=[
            Route("/{path:path}", self.handle, methods=["POST"])])).start()
        self.url = self.server.url

    async def handle(self, request):
        raw = await request.body()
        with self.lock:
            self.requests.append({"path": request.url.path, "headers": dict(request.headers), "raw": raw,
                                  "json": json.loads(raw) if raw else None})
            for suffix, answers in self.script.items():
                if request.url.path.endswith(suffix) and answers:
                    status, body = answers.pop(0)
                    break
            else:
                status, body = 200, {"ok": True, "result": {"message_id": 1}}
        if isinstance(body, str):
            return Response(body, status, headers={"location": "http://elsewhere.invalid/"})
        return JSONResponse(body, status)

    def answer(self, suffix: str, *answers: tuple[int, object]) -> None:
        self.script[suffix] = list(answers)

    def reset(self) -> None:
        self.requests.clear()
        self.script.clear()

"""A fake of Exa's search API for tests, served on loopback: POST /search with `x-api-key`.

A request with the right key gets `results` (the test sets them; by default two made-up
hits built from the query), a wrong or missing key a 401 as Exa sends it, and `fail_with` makes
the next answers that HTTP status. `requests` keeps each request's headers and JSON body.
"""

from __future__ import annotations

import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeSearch:
    def __init__(self, key: str = "exa-test-key-0123456789") -> None:
        self.key = key
        self.results: list[dict] | None = None
        self.fail_with: int | None = None
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/search", self._search, methods=["POST"])])
        self.server = None

    @property
    def url(self) -> str:
        return self.server.url

    def reset(self) -> None:
        with self._lock:
            self.results, self.fail_with = None, None
            self.requests.clear()

    async def _search(self, request: Request):
        body = await request.json()
        with self._lock:
            self.requests.append({"headers": dict(request.headers), "body": body})
        if request.headers.get("x-api-key") != self.key:
            return JSONResponse({"error": "Invalid API key", "requestId": "fake"}, status_code=401)
        if self.fail_with is not None:
            return JSONResponse({"error": f"fake failure {self.fail_with}", "requestId": "fake"},
                                status_code=self.fail_with)
        query = body.get("query", "")
        results = self.results if self.results is not None else [
            {"id": "https://example.test/a", "url": "https://example.test/a", "title": f"All about {query}",
             "publishedDate": "2025-01-02T00:00:00.000Z", "author": "Ana", "score": 0.9,
             "text": f"A long page about {query}. " * 3},
            {"id": "https://example.test/b", "url": "https://example.test/b", "title": "Second hit",
             "publishedDate": None, "author": None, "text": "Short."},
        ]
        return JSONResponse({"requestId": "fake", "resolvedSearchType": "neural",
                             "results": results[:int(body.get("numResults") or 10)]})

"""Helper role `_sse_clients PORT N PATH EXPECT TIMEOUT`: N raw-socket SSE clients in one process
(core 1). Prints `READY {json}` once every client has its response headers (at most 60 s), then
`RESULT {json}` when every client has EXPECT events, on `stop` (stdin), or after TIMEOUT s.
Latency = receive time - the payload's send time; events are parsed after the run."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time

from .common import percentile, raise_nofile, run_event_loop


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

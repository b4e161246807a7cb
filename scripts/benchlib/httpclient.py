"""A minimal blocking HTTP/1.1 client on raw sockets: seeding, health polls, probes."""

from __future__ import annotations

import json
import socket
import subprocess
import time


def _exchange(port: int, request: bytes, timeout: float) -> tuple[int, bytes]:
    """Send one request on a fresh connection (Connection: close); the status and the (de-chunked) body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
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


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection (Connection: close)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    return _exchange(port, request.encode(), timeout)


def http_json(port: int, method: str, path: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    status, resp = _exchange(port, head.encode() + body, timeout=10)
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

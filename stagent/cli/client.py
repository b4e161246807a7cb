"""HTTP client for a running daemon: where it is, which key to send, readable errors, SSE tail.

Only httpx and click are imported here (never the engine) so CLI commands start fast.

The SSE reader owns one invariant: every log line is yielded exactly once, in order, across
dropped connections and daemon restarts. It remembers the `id:` of the last event it yielded,
reconnects with `Last-Event-ID` (the daemon replays only later lines) and skips anything at or
below that id. A per-task stream that ends cleanly is only trusted as "the task ended" after
GET /api/tasks/{id} says so; otherwise the reader reconnects.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from ..config import DEFAULT_PORT, default_data_dir

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
START_HINT = "start it with ./scripts/serve or `stagent serve`"


class CliError(click.ClickException):
    """A failure the user can act on; click prints `Error: <message>` and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


# ---- where the daemon is and which key to send ---------------------------------------------

def resolve_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    port = os.environ.get("STAGENT_PORT") or str(DEFAULT_PORT)
    return f"http://127.0.0.1:{port}"


def resolve_data_dir(data_dir: str | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def resolve_api_key(api_key: str | None, data_dir: Path) -> tuple[str | None, str]:
    """The key to send and a description of where it came from (for error messages)."""
    if api_key:
        return api_key.strip(), "--api-key / STAGENT_API_KEY"
    path = data_dir / "api-key"
    try:
        text = path.read_text().strip()
    except OSError:
        return None, str(path)
    return (text or None), str(path)


# ---- errors --------------------------------------------------------------------------------

def error_message(response: httpx.Response) -> str:
    """The server's own message: `{"error": "..."}` or the flattened validation shape."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and ("fieldErrors" in error or "formErrors" in error):
        parts = list(error.get("formErrors") or [])
        for name, messages in (error.get("fieldErrors") or {}).items():
            parts.append(f"{name}: {'; '.join(messages)}")
        return "Validation failed: " + (", ".join(parts) if parts else "invalid request")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return json.dumps(error)


class Client:
    def __init__(self, url: str, api_key: str | None = None, key_source: str = "",
                 *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        self.url = url
        self.key_source = key_source
        headers = {"X-API-Key": api_key} if api_key else {}
        self.has_key = api_key is not None
        self.server_date: str | None = None  # the last response's Date header (the daemon's clock)
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport,
                                 event_hooks={"response": [self._remember_date]})

    def _remember_date(self, response: httpx.Response) -> None:
        self.server_date = response.headers.get("date") or self.server_date

    @classmethod
    def from_context(cls, ctx: click.Context) -> Client:
        obj = ctx.find_root().obj or {}
        data_dir = resolve_data_dir(obj.get("data_dir"))
        key, source = resolve_api_key(obj.get("api_key"), data_dir)
        client = cls(resolve_url(obj.get("url")), key, source)
        ctx.call_on_close(client.close)
        return client

    def close(self) -> None:
        self.http.close()

    # -- plain requests --
    def request(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from None
        self.check(response)
        return response.json() if response.content else None

    def get(self, path: str, **kw) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> Any:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw) -> Any:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> Any:
        return self.request("DELETE", path, **kw)

    def unreachable(self, exc: Exception) -> CliError:
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return CliError(f"Cannot reach the stagent daemon at {self.url}: is it running? "
                            f"If not, {START_HINT}; if it runs elsewhere, pass --url or set STAGENT_URL.")
        return CliError(f"Lost the connection to the stagent daemon at {self.url} "
                        f"({type(exc).__name__}: {exc or 'no detail'}). Check that it is still running.")

    def check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        message = error_message(response)
        if status == 401:
            if self.has_key:
                hint = (f"The key sent came from {self.key_source}; it may be revoked or belong to another "
                        "daemon. Point --data-dir / STAGENT_DATA_DIR at the daemon's data dir, or pass a "
                        "valid key with --api-key / STAGENT_API_KEY.")
            else:
                hint = (f"No API key was found (looked for {self.key_source}). Pass --api-key, set "
                        "STAGENT_API_KEY, or point --data-dir at the daemon's data dir.")
            raise CliError(f"Unauthorized (401): {message}\n{hint}")
        if status == 403:
            raise CliError(f"Forbidden (403): {message}\nUse a key with the needed scope: the daemon's "
                           f"full-scope key is in <data dir>/api-key (this CLI used {self.key_source}).")
        if status < 500:
            raise CliError(f"{message} ({status})")
        raise CliError(f"The daemon failed ({status}): {message}. Its log may say more.")

    # -- server-sent events --
    def events(self, path: str, *, params: dict | None = None, last_event_id: int | None = None,
               task_id: str | None = None, idle_timeout: float | None = None,
               stop: Callable[[SseEvent], bool] | None = None,
               read_timeout: float = 60.0, retry_for: float = 60.0,
               backoff: tuple[float, float] = (0.2, 5.0),
               on_reconnect: Callable[[int, Exception | None], None] | None = None) -> Iterator[SseEvent]:
        """Yield the events of an SSE stream once each, reconnecting with Last-Event-ID.

        - `task_id` (for /api/tasks/{id}/logs): a cleanly closed stream ends the reader only if
          the task is completed/failed/cancelled; otherwise it reconnects.
        - `idle_timeout`: stop (without error) after that many seconds with no data, for
          "print what is there now" reads of a live stream.
        - `stop(event)`: called before yielding an event; True ends the reader there.
        - Connection failures are retried with exponential backoff; after `retry_for` seconds
          without a successful connection a CliError is raised.
        """
        last = last_event_id
        delay = backoff[0]
        failing_since: float | None = None
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            timeout = httpx.Timeout(10.0, read=idle_timeout if idle_timeout is not None else read_timeout)
            error: Exception | None = None
            try:
                with self.http.stream("GET", path, params=params, headers=headers, timeout=timeout) as response:
                    if response.status_code >= 500 or response.status_code == 429:
                        response.read()
                        raise _Retryable(f"HTTP {response.status_code}: {error_message(response)}")
                    if response.status_code >= 400:
                        response.read()
                        self.check(response)
                    failing_since, delay = None, backoff[0]
                    for event in parse_sse(response.iter_lines()):
                        if event.id is not None and event.id.isdigit():
                            seq = int(event.id)
                            if last is not None and seq <= last:
                                continue  # replayed by a server that ignored Last-Event-ID
                            last = seq
                        if stop is not None and stop(event):
                            return
                        yield event
                # The server closed the stream on purpose.
                if idle_timeout is not None and task_id is None:
                    return
                if task_id is not None and self._task_finished(task_id, idle_timeout is not None):
                    return
            except httpx.ReadTimeout as exc:
                if idle_timeout is not None:
                    return  # quiet for idle_timeout seconds: everything available has been read
                error = exc  # no keepalive for read_timeout seconds: a half-open connection
            except (httpx.TransportError, _Retryable) as exc:
                error = exc
            now = time.monotonic()
            failing_since = failing_since if failing_since is not None else now
            if now - failing_since > retry_for:
                if isinstance(error, httpx.TransportError):
                    raise self.unreachable(error) from None
                raise CliError(f"Gave up reconnecting to {self.url}{path}: {error}")
            if on_reconnect is not None:
                on_reconnect(last or 0, error)
            time.sleep(delay)
            delay = min(delay * 2, backoff[1])

    def _task_finished(self, task_id: str, default: bool) -> bool:
        """Whether the task has ended; `default` when the daemon cannot be asked right now."""
        try:
            response = self.http.get(f"/api/tasks/{task_id}")
        except httpx.TransportError:
            return default
        if response.status_code == 404:
            return True  # deleted: its stream will never say more
        if response.status_code >= 400:
            return default
        return response.json().get("status") in TERMINAL_STATUSES


class _Retryable(Exception):
    pass


# ---- SSE parsing ---------------------------------------------------------------------------

@dataclass
class SseEvent:
    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    """text/event-stream lines -> events. Comments (`: keepalive`) are skipped; an event is
    only emitted at its terminating blank line, so a connection cut mid-event yields nothing
    of it (the replay after Last-Event-ID brings it back whole)."""
    current = SseEvent()
    for raw in lines:
        line = raw.rstrip("\r")
        if line == "":
            if current.data_lines or current.event is not None:
                yield current
            current = SseEvent()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            current.data_lines.append(value)
        elif name == "id":
            current.id = value
        elif name == "event":
            current.event = value


# ---- helpers shared by the commands -------------------------------------------------------

def short_id(value: str) -> str:
    return value[:8]


def by_prefix(items: list[dict], ref: str, noun: str) -> dict:
    """The one item whose id is `ref` or starts with it (list views show 8-character ids)."""
    matches = [item for item in items if item["id"] == ref] or [
        item for item in items if item["id"].startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"No {noun} with id {ref!r}.")
    ids = ", ".join(short_id(m["id"]) for m in matches[:5])
    raise CliError(f"The id {ref!r} matches {len(matches)} {noun}s ({ids}…); give more characters.")


def get_task(client: Client, ref: str) -> dict:
    """A task by full id or by a unique prefix of it."""
    try:
        response = client.http.get(f"/api/tasks/{ref}")
    except httpx.TransportError as exc:
        raise client.unreachable(exc) from None
    if response.status_code == 404 and len(ref) < 36:
        return client.get(f"/api/tasks/{by_prefix(client.get('/api/tasks'), ref, 'task')['id']}")
    if response.status_code == 404:
        raise CliError(f"No task with id {ref!r}.")
    client.check(response)
    return response.json()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Left-aligned columns; on a terminal the last one is cut to its width (piped, nothing is cut)."""
    import shutil
    import sys

    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    prefix_width = sum(w + 2 for w in widths)
    room = max(shutil.get_terminal_size().columns - prefix_width, 20) if sys.stdout.isatty() else None
    for row in cells:
        head = "".join(cell.ljust(w + 2) for cell, w in zip(row, widths, strict=False))
        last = " ".join(row[-1].split())
        if room is not None and len(last) > room:
            last = last[:room - 1] + "…"
        click.echo((head + last).rstrip())

"""`stagent logs <taskId> [--follow] [--json]`: a task's agent log, replayed or tailed.

Streamed model text is written inline as it arrives; tool calls, retries and errors get a line
each (retries and errors on stderr). The same printer renders `stagent tasks run --follow`.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime

import click

from .client import TERMINAL_STATUSES, Client, SseEvent, get_task

IDLE_SECONDS = 1.0  # without --follow, a live task's log is "read" after this much silence


class LogPrinter:
    """Renders log rows for a terminal (or as raw JSON lines)."""

    def __init__(self, *, as_json: bool = False):
        self.as_json = as_json
        self.mid_line = False       # stdout holds streamed text without its newline yet
        self.turn_text: list[str] = []  # text streamed since the last tool call: the final answer
        self.last_error: str | None = None

    def handle(self, event: SseEvent) -> dict:
        row = event.json()
        if self.as_json:
            click.echo(event.data)
            return row
        kind = row.get("event")
        payload = _payload(row.get("payload"))
        if kind in ("stream", "content_block_delta"):
            text = payload.get("text") or payload.get("delta", {}).get("text") or ""
            if text:
                click.echo(text, nl=False)
                self.mid_line = not text.endswith("\n")
                self.turn_text.append(text)
        elif kind == "tool_start":
            self.turn_text = []
            self.line(f"→ tool {payload.get('tool', '?')} {_compact(payload.get('input'), 300)}")
        elif kind == "tool_result":
            self.line(f"← {payload.get('tool', '?')}: {_compact(payload.get('output'), 160)}")
        elif kind in ("started", "session_resumed"):
            verb = "resumed" if kind == "session_resumed" else "running"
            model = payload.get("model")
            self.note(f"{verb}…" + (f" (model {model})" if model else ""))
        elif kind == "profile_assigned":
            self.note(f"profile {payload.get('profile', '?')}: {payload.get('reason', '')}")
        elif kind == "command_output":
            self.line(str(payload.get("text", "")).rstrip("\n"))
        elif kind == "file_change":
            self.line(f"✎ {payload.get('path', '?')} changed")
        elif kind == "retry":
            self.note(f"retry {payload.get('attempt', '?')}: {payload.get('message', '')} "
                      f"(waiting {payload.get('delaySeconds', '?')} s)")
        elif kind == "error":
            self.last_error = payload.get("message") or json.dumps(payload)
            self.note(f"error: {self.last_error}")
        elif kind == "usage":
            self.note(f"usage: {payload.get('inputTokens', 0)} input + {payload.get('outputTokens', 0)} "
                      f"output tokens ({payload.get('model', '')})")
        elif kind in ("completed", "cancelled"):
            pass  # the final status is printed by the caller from the task itself
        else:
            self.line(f"[{kind}] {_compact(payload, 300)}")
        return row

    def line(self, text: str) -> None:
        self.end_line()
        click.echo(text)

    def note(self, text: str) -> None:
        self.end_line()
        click.echo(text, err=True)

    def end_line(self) -> None:
        if self.mid_line:
            click.echo("")
            self.mid_line = False

    @property
    def final_text(self) -> str:
        return "".join(self.turn_text)


def _payload(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {"text": raw}
    return value if isinstance(value, dict) else {"value": value}


def _compact(value, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def stream_task_log(client: Client, task_id: str, printer: LogPrinter, *, follow: bool,
                    live: bool, server_date: str | None = None) -> None:
    """Print a task's log. Following: until the task ends, across reconnects. Not following a
    live task: the lines written before this call (cut at the daemon's clock), or until the log
    has been quiet for a second."""
    path = f"/api/tasks/{task_id}/logs"
    stop = None
    idle = None
    if live and not follow:
        idle = IDLE_SECONDS
        cutoff = _cutoff(server_date)
        if cutoff is not None:
            stop = lambda event: _timestamp(event) > cutoff  # noqa: E731

    def reconnecting(last: int, error: Exception | None) -> None:
        if error is not None:
            printer.note(f"connection lost ({type(error).__name__}); reconnecting after line {last}…")

    for event in client.events(path, task_id=task_id, idle_timeout=idle, stop=stop,
                               on_reconnect=reconnecting):
        printer.handle(event)
    printer.end_line()


def _cutoff(server_date: str | None) -> str | None:
    """Two seconds past the daemon's `Date` header (whole seconds, refreshed by uvicorn once a
    second, so up to two seconds behind), in the log rows' timestamp format."""
    if not server_date:
        return None
    try:
        moment = parsedate_to_datetime(server_date).astimezone(UTC) + timedelta(seconds=2)
    except (TypeError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _timestamp(event: SseEvent) -> str:
    try:
        return str(event.json().get("timestamp") or "")
    except ValueError:
        return ""


@click.command()
@click.argument("task_id")
@click.option("--follow", "-f", is_flag=True, help="Keep tailing until the task ends (reconnects on drops).")
@click.option("--json", "as_json", is_flag=True, help="Print raw log rows, one JSON object per line.")
@click.pass_context
def logs(ctx: click.Context, task_id: str, follow: bool, as_json: bool) -> None:
    """Show the agent log of TASK_ID (a full id or a unique prefix)."""
    client = Client.from_context(ctx)
    task = get_task(client, task_id)
    live = task["status"] not in TERMINAL_STATUSES
    printer = LogPrinter(as_json=as_json)
    try:
        stream_task_log(client, task["id"], printer, follow=follow, live=live,
                        server_date=client.server_date)
    except KeyboardInterrupt:
        printer.end_line()
        ctx.exit(130)
    if not as_json:
        final = client.get(f"/api/tasks/{task['id']}")
        hint = "" if final["status"] in TERMINAL_STATUSES else f" (tail it with: stagent logs {task['id']} --follow)"
        click.echo(f"task {final['status']}{hint}", err=True)

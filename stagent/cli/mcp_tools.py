"""stagent's own MCP tools, one definition for both transports: `stagent mcp` (stdio, talking to
the running daemon through cli/client.py) and the daemon's /mcp (streamable HTTP, calling its
own REST API in process). Each tool is a REST call (or a few), so both transports behave alike
and every rule of the API (validation, budgets, permissions) applies unchanged.

Tools: list_projects, list_tasks, create_task, run_task, get_task, follow_task, list_workflows,
run_workflow, create_schedule, list_pending_approvals, answer_approval.

Invariant: a refusal or failure of the daemon comes back as the tool's error result with the
daemon's own message, never as a protocol error or a crash of the server.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Literal, Protocol

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from .client import TERMINAL_STATUSES, Client, CliError, error_message

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
RESULT_MAX = 8000      # characters of a task's result a tool answer carries
LINE_TEXT_MAX = 2000   # characters of one log line's text
FOLLOW_WAIT_MAX = 60.0
FOLLOW_POLL = 0.5      # seconds between two reads of the log while follow_task waits

INSTRUCTIONS = (
    "stagent is a local AI-agent daemon. Hand it work as tasks: create_task (run=true starts it), "
    "then follow_task until done, or get_task for the result. Runs may pause on a tool-permission "
    "request: list_pending_approvals shows them, answer_approval allows or denies one."
)


class DaemonApi(Protocol):
    async def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """The daemon's JSON answer; ToolError with its message when it refuses or fails."""


class ClientApi:
    """The daemon over HTTP through the CLI's client (blocking: each call in a worker thread)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        call = functools.partial(self.client.request, method, path, json=json, params=params)
        try:
            return await anyio.to_thread.run_sync(call)
        except CliError as exc:
            raise ToolError(exc.message) from None


class AsyncHttpApi:
    """The daemon through an httpx.AsyncClient (the daemon's own /mcp: its app, in process)."""

    def __init__(self, http) -> None:
        self.http = http

    async def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        response = await self.http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise ToolError(f"{error_message(response)} ({response.status_code})")
        return response.json() if response.content else None


def _task(task: dict) -> dict[str, Any]:
    out = {key: task.get(key) for key in ("id", "title", "status", "projectId", "priority", "createdAt",
                                          "updatedAt")}
    result = task.get("result")
    if result is not None:
        out["result"] = result if len(result) <= RESULT_MAX else result[:RESULT_MAX] + "…(cut)"
    return out


def _lines(rows: list[dict]) -> list[dict]:
    """Log lines, compact: consecutive `stream` pieces joined into one line of text."""
    out: list[dict] = []
    for row in rows:
        try:
            payload = json.loads(row.get("payload") or "{}")
        except ValueError:
            payload = {"text": row.get("payload")}
        event = row.get("event")
        if event == "stream" and out and out[-1]["event"] == "stream":
            out[-1]["text"] = (out[-1]["text"] + str(payload.get("text", "")))[-LINE_TEXT_MAX:]
            out[-1]["seq"] = row["seq"]
            continue
        if event == "stream":
            out.append({"seq": row["seq"], "event": event, "text": str(payload.get("text", ""))})
            continue
        text = json.dumps(payload, ensure_ascii=False)
        out.append({"seq": row["seq"], "event": event,
                    "text": text if len(text) <= LINE_TEXT_MAX else text[:LINE_TEXT_MAX] + "…"})
    return out


def build_server(api: DaemonApi) -> MCPServer:
    """The MCP server whose tools call the daemon through `api`."""
    server = MCPServer("stagent", instructions=INSTRUCTIONS, log_level="WARNING")

    async def start(task_id: str) -> dict[str, Any]:
        task = await api.request("GET", f"/api/tasks/{task_id}")
        if task["status"] != "queued":
            await api.request("PATCH", f"/api/tasks/{task_id}", json={"status": "queued"})
        await api.request("POST", f"/api/tasks/{task_id}/execute")
        return _task(await api.request("GET", f"/api/tasks/{task_id}"))

    @server.tool()
    async def list_projects() -> dict[str, Any]:
        """The projects (id, name, description, working directory, status)."""
        rows = await api.request("GET", "/api/projects")
        return {"projects": [{k: p.get(k) for k in ("id", "name", "description", "workingDirectory", "status")}
                             for p in rows]}

    @server.tool()
    async def list_tasks(project_id: str | None = None,
                         status: Literal["planned", "queued", "running", "completed", "failed",
                                         "cancelled"] | None = None) -> dict[str, Any]:
        """Tasks, most urgent first, then newest; optionally of one project or with one status."""
        params = {k: v for k, v in (("projectId", project_id), ("status", status)) if v}
        return {"tasks": [_task(t) for t in await api.request("GET", "/api/tasks", params=params)]}

    @server.tool()
    async def create_task(title: str, description: str | None = None, project_id: str | None = None,
                          model: str | None = None, run: bool = False) -> dict[str, Any]:
        """Create a task for stagent's agent: `title` is the instruction (a longer one goes in
        `description`, up to 2000 characters). The agent works in the project's working
        directory. With run=true it starts at once; follow it with follow_task."""
        title = title.strip()
        if not title:
            raise ToolError("title must not be empty")
        if len(title) > TITLE_MAX and not description:
            title, description = title[:TITLE_MAX], title
        body: dict[str, Any] = {"title": title[:TITLE_MAX]}
        for key, value in (("description", description), ("projectId", project_id), ("modelId", model)):
            if value:
                body[key] = value
        task = await api.request("POST", "/api/tasks", json=body)
        return await start(task["id"]) if run else _task(task)

    @server.tool()
    async def run_task(task_id: str) -> dict[str, Any]:
        """Start a task (queued first if it is planned; a failed, cancelled or completed one
        runs again from the start)."""
        return await start(task_id)

    @server.tool()
    async def get_task(task_id: str) -> dict[str, Any]:
        """A task: its status and, once it has finished, its result."""
        return _task(await api.request("GET", f"/api/tasks/{task_id}"))

    @server.tool()
    async def follow_task(task_id: str, after: int = 0, wait_seconds: float = 20) -> dict[str, Any]:
        """The task's log lines after `after` (a `seq`; 0 from the start). Waits up to
        `wait_seconds` (at most 60) for new lines or the task's end. Call again with `next`
        until `done`; then `result` is the task's result."""
        deadline = time.monotonic() + max(0.0, min(float(wait_seconds), FOLLOW_WAIT_MAX))
        cursor = max(0, int(after))
        while True:
            # The status first: a final status commits with its last line, so a page read after
            # seeing it holds every line (read the other way round, the last one could be missed).
            task = await api.request("GET", f"/api/tasks/{task_id}")
            page = await api.request("GET", "/api/events/logs", params={"taskId": task_id, "after": cursor})
            rows = page.get("lines") or []
            done = task["status"] in TERMINAL_STATUSES
            if rows or done or time.monotonic() >= deadline:
                answer = {"taskId": task_id, "status": task["status"], "done": done and not page.get("more"),
                          "lines": _lines(rows), "next": rows[-1]["seq"] if rows else cursor}
                if answer["done"]:
                    answer["result"] = _task(task).get("result")
                return answer
            await anyio.sleep(FOLLOW_POLL)

    @server.tool()
    async def list_workflows() -> dict[str, Any]:
        """The workflows (id, name, status)."""
        rows = await api.request("GET", "/api/workflows")
        return {"workflows": [{k: w.get(k) for k in ("id", "name", "status", "projectId", "runNumber")}
                              for w in rows]}

    @server.tool()
    async def run_workflow(workflow_id: str) -> dict[str, Any]:
        """Start a workflow run; its steps run as tasks (list_tasks shows them)."""
        answer = await api.request("POST", f"/api/workflows/{workflow_id}/execute")
        return answer if isinstance(answer, dict) else {"message": str(answer)}

    @server.tool()
    async def create_schedule(name: str, prompt: str, interval: str, project_id: str | None = None) -> dict[str, Any]:
        """Run `prompt` as a task on a schedule. `interval` is a cron expression or plain words
        ("every 30 minutes", "every weekday at 9am")."""
        body: dict[str, Any] = {"name": name, "prompt": prompt, "interval": interval}
        if project_id:
            body["projectId"] = project_id
        schedule = await api.request("POST", "/api/schedules", json=body)
        return {k: schedule.get(k) for k in ("id", "name", "status", "cronExpression", "nextFireAt", "projectId")}

    @server.tool()
    async def list_pending_approvals() -> dict[str, Any]:
        """Tool calls waiting for a human's answer (newest first), with what they would do."""
        rows = await api.request("GET", "/api/notifications/pending-approvals")
        keys = ("notificationId", "taskId", "workflowId", "toolName", "toolInput", "compactSummary", "taskTitle",
                "expiresAt", "suggestedPattern")
        return {"approvals": [{k: a.get(k) for k in keys} for a in rows]}

    @server.tool()
    async def answer_approval(notification_id: str, behavior: Literal["allow", "deny"], message: str | None = None,
                              always_allow: bool = False) -> dict[str, Any]:
        """Allow or deny a pending tool call. always_allow=true also saves its suggested
        pattern, so identical calls are allowed from then on."""
        body: dict[str, Any] = {"behavior": behavior, "alwaysAllow": always_allow}
        if message:
            body["message"] = message
        answered = await api.request("POST", f"/api/notifications/{notification_id}/respond", json=body)
        response = answered.get("response")
        return {"notificationId": notification_id, "taskId": answered.get("taskId"),
                "response": json.loads(response) if isinstance(response, str) else response}

    return server

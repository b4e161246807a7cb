"""stagent as an MCP server, driven by the SDK's own client against a real daemon (the fake
provider scripted per test): `stagent mcp` over stdio as a subprocess pointed at the daemon
through the environment, and /mcp over streamable HTTP with a key holding the `mcp` scope.
A key without that scope, or no key, is refused."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"list_projects", "list_tasks", "create_task", "run_task", "get_task", "follow_task", "list_workflows",
         "run_workflow", "create_schedule", "list_pending_approvals", "answer_approval"}


def new_key(daemon, *scopes: str) -> str:
    created = daemon.client.post("/api/keys", json={"name": "mcp test", "scopes": list(scopes)},
                                 headers={"X-API-Key": daemon.api_key})
    assert created.status_code == 201, created.text
    return created.json()["key"]


@asynccontextmanager
async def over_stdio(daemon, key: str):
    params = StdioServerParameters(command=sys.executable, args=["-m", "stagent", "mcp"], cwd=str(REPO),
                                   env={"STAGENT_URL": daemon.url, "STAGENT_API_KEY": key,
                                        "STAGENT_DATA_DIR": str(daemon.data_dir)})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def over_http(daemon, key: str):
    async with httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=60) as http, \
            streamable_http_client(f"{daemon.url}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **args) -> dict:
    result = await session.call_tool(tool, args)
    assert not result.is_error, result.content
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **args) -> str:
    result = await session.call_tool(tool, args)
    assert result.is_error, result
    return result.content[0].text


async def follow(session: ClientSession, task_id: str, until=lambda answer: answer["done"]) -> tuple[dict, list]:
    """follow_task until `until(answer)`; returns the last answer and every line seen."""
    after, lines = 0, []
    for _ in range(200):
        answer = await call(session, "follow_task", task_id=task_id, after=after, wait_seconds=5)
        lines += answer["lines"]
        after = answer["next"]
        if until(answer):
            return answer, lines
    raise AssertionError(f"the task did not get there: {answer}")


async def create_run_and_read(session: ClientSession, fake) -> None:
    tools = await session.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    fake.enqueue_text("forty-two")
    task = await call(session, "create_task", title="What is six times seven?", run=True)
    assert task["title"] == "What is six times seven?" and task["status"] in ("running", "completed")

    answer, lines = await follow(session, task["id"])
    assert answer["status"] == "completed" and answer["result"] == "forty-two"
    events = [line["event"] for line in lines]
    assert events[0] == "started" and events[-1] == "completed"
    assert "forty-two" in "".join(line["text"] for line in lines if line["event"] == "stream")

    read = await call(session, "get_task", task_id=task["id"])
    assert read["status"] == "completed" and read["result"] == "forty-two"
    listed = await call(session, "list_tasks", status="completed")
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    assert "not found" in (await call_error(session, "get_task", task_id="no-such-task")).lower()


# ---- stdio: `stagent mcp` ------------------------------------------------------------------------

def test_stagent_mcp_over_stdio_creates_runs_and_reads_a_task(daemon, llm_env):
    async def scenario():
        async with over_stdio(daemon, daemon.api_key) as session:
            await create_run_and_read(session, llm_env)

    asyncio.run(scenario())


def test_stagent_mcp_reports_the_daemons_refusals_as_tool_errors(daemon, llm_env):
    reader = new_key(daemon, "stagent:read")

    async def scenario():
        async with over_stdio(daemon, reader) as session:
            assert (await call(session, "list_tasks"))["tasks"] == []
            refused = await call_error(session, "create_task", title="not with this key")
            assert "stagent:write" in refused

    asyncio.run(scenario())


# ---- streamable HTTP: /mcp -----------------------------------------------------------------------

def test_mcp_over_http_with_the_mcp_scope(daemon, llm_env):
    key = new_key(daemon, "mcp")

    async def scenario():
        async with over_http(daemon, key) as session:
            await create_run_and_read(session, llm_env)

    asyncio.run(scenario())
    # the key holds only `mcp`: the REST API itself stays closed to it
    assert daemon.client.get("/api/tasks", headers={"X-API-Key": key}).status_code == 403


def test_mcp_over_http_answers_a_pending_approval(daemon, llm_env):
    key = new_key(daemon, "mcp")
    project = daemon.client.post("/api/projects", json={"name": "Handoff"}).json()
    llm_env.enqueue_tool_call("create_task", {"title": "follow-up"})  # asks: not a safe tool
    llm_env.enqueue_text("made it")

    async def scenario():
        async with over_http(daemon, key) as session:
            projects = await call(session, "list_projects")
            assert [p["name"] for p in projects["projects"]] == ["Handoff"]
            task = await call(session, "create_task", title="Plan the work", project_id=project["id"], run=True)
            await follow(session, task["id"], until=lambda a: any(line["event"] == "permission_request"
                                                                  for line in a["lines"]) or a["done"])
            approvals = (await call(session, "list_pending_approvals"))["approvals"]
            assert [(a["taskId"], a["toolName"]) for a in approvals] == [(task["id"], "create_task")]
            answered = await call(session, "answer_approval", notification_id=approvals[0]["notificationId"],
                                  behavior="allow")
            assert answered["response"]["behavior"] == "allow"
            answer, _ = await follow(session, task["id"])
            assert answer["status"] == "completed" and answer["result"] == "made it"
            assert (await call(session, "list_pending_approvals"))["approvals"] == []

            schedule = await call(session, "create_schedule", name="Daily digest", prompt="Summarise the day",
                                  interval="every day at 9am", project_id=project["id"])
            assert schedule["name"] == "Daily digest" and schedule["cronExpression"]
            assert "not found" in (await call_error(session, "run_workflow", workflow_id="nope")).lower()

    asyncio.run(scenario())
    tasks = {t["title"] for t in daemon.client.get("/api/tasks").json()}
    assert {"Plan the work", "follow-up"} <= tasks


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "probe", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("scopes", [("stagent:read", "stagent:write"), ("admin",)])
def test_mcp_over_http_refuses_a_key_without_the_mcp_scope(daemon, scopes):
    refused = httpx.post(f"{daemon.url}/mcp", json=INITIALIZE, headers={**ACCEPT, "X-API-Key": new_key(daemon, *scopes)})
    assert refused.status_code == 403
    assert refused.json()["error"] == "This API key lacks the 'mcp' scope."


def test_mcp_over_http_needs_a_key_even_locally(daemon):
    refused = httpx.post(f"{daemon.url}/mcp", json=INITIALIZE, headers=ACCEPT)
    assert refused.status_code == 401 and "API key" in refused.json()["error"]
    allowed = httpx.post(f"{daemon.url}/mcp", json=INITIALIZE, headers={**ACCEPT, "X-API-Key": new_key(daemon, "mcp")})
    assert allowed.status_code == 200, allowed.text
    assert json.loads(allowed.text)["result"]["serverInfo"]["name"] == "stagent"


def test_mcp_over_http_has_no_stream_to_get(daemon):
    key = {"X-API-Key": new_key(daemon, "mcp")}
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, f"{daemon.url}/mcp", headers={**ACCEPT, **key})
        assert answer.status_code == 405 and answer.headers["allow"] == "POST"

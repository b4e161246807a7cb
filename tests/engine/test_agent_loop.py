"""The one agent loop: a tool registered once is offered, and runs, on every surface that
includes its set (a task run and a Stagent chat turn here), through the real daemon."""

from __future__ import annotations

import json

import httpx
import pytest

from stagent.engine.agent.tools import CHAT_TOOLS, TASK_TOOLS, tool
from tests.helpers.sse import iter_events


@pytest.fixture
def echo():
    """An `echo` tool in the task and chat sets, allowed without asking; removed afterwards."""

    @tool("echo", "Say the text back.", {"text": {"type": "string"}}, ("text",), sets=(TASK_TOOLS, CHAT_TOOLS))
    async def run_echo(ctx, args: dict) -> dict:
        return {"echoed": args["text"], "context": type(ctx).__name__}

    yield
    for tool_set in (TASK_TOOLS, CHAT_TOOLS):
        tool_set.remove("echo")


def offered(request: dict) -> list[str]:
    return [t["function"]["name"] for t in request.get("tools", [])]


def test_a_registered_tool_is_offered_and_runs_on_a_task(daemon, client, llm_env, echo):
    assert client.post("/api/permissions", json={"pattern": "echo"}).status_code in (200, 201)
    llm_env.enqueue_tool_call("echo", {"text": "from the task"}, call_id="e1")
    llm_env.enqueue_text("Echoed.")
    task = client.post("/api/tasks", json={"title": "Echo something"}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"

    assert "echo" in offered(llm_env.requests[0]) and "read_file" in offered(llm_env.requests[0])
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
        rows = [e.json() for e in iter_events(r.iter_lines())]
    [start] = [json.loads(row["payload"]) for row in rows if row["event"] == "tool_start"]
    [result] = [json.loads(row["payload"]) for row in rows if row["event"] == "tool_result"]
    assert start == {"tool": "echo", "input": {"text": "from the task"}}
    assert json.loads(result["output"]) == {"echoed": "from the task", "context": "ToolContext"}
    tool_message = [m for m in llm_env.requests[1]["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], json.loads(m["content"])["echoed"]) for m in tool_message] == [("e1", "from the task")]


def test_a_registered_tool_is_offered_and_runs_in_chat(daemon, client, llm_env, echo):
    assert client.post("/api/permissions", json={"pattern": "echo"}).status_code in (200, 201)
    conv = client.post("/api/chat/conversations", json={"runtimeId": "claude-code"}).json()
    llm_env.enqueue_tool_call("echo", {"text": "from the chat"}, call_id="e2")
    llm_env.enqueue_text("Echoed in chat.")
    with client.stream("POST", f"/api/chat/conversations/{conv['id']}/messages", json={"content": "Echo"}) as r:
        assert r.status_code == 200
        events = [e.json() for e in iter_events(r.iter_lines())]

    assert "echo" in offered(llm_env.requests[0]) and "create_task" in offered(llm_env.requests[0])
    [call] = [e for e in events if e["type"] == "tool_call"]
    [result] = [e for e in events if e["type"] == "tool_result"]
    assert (call["name"], call["arguments"]) == ("echo", {"text": "from the chat"})
    assert json.loads(result["result"]) == {"echoed": "from the chat", "context": "ChatToolContext"}
    assert events[-1]["type"] == "done"
    reply = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()[-1]
    assert reply["content"] == "Echoed in chat."


def test_a_task_answers_an_unknown_tool_at_once_without_asking(daemon, client, llm_env):
    llm_env.enqueue_tool_call("launch_rockets", {"count": 3})
    llm_env.enqueue_text("I have no such tool.")
    task = client.post("/api/tasks", json={"title": "Launch"}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    [tool_message] = [m for m in llm_env.requests[1]["messages"] if m["role"] == "tool"]
    assert tool_message["content"].startswith("error: unknown tool 'launch_rockets'; the tools are: ")
    assert "read_file" in tool_message["content"]
    assert client.get("/api/notifications?type=permission_required").json() == []  # nobody was asked

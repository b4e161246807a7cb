"""The Lars API (/api/ai-agent/*): chat with suggested actions, execution and approval,
the error envelope and codes, per-workspace rate limits, and workspace isolation.

Everything runs against the real daemon (uvicorn, SQLite) and the scripted fake provider.
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import time

import httpx
import pytest

from tests.api.test_clients import TIMESTAMP, data_of, error_of, lars_client, new_project
from tests.conftest import Daemon

CHAT = "/api/ai-agent/chat"
ACTIONS = "/api/ai-agent/actions"
CLIENTS = "/api/ai-agent/clients"


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


def execute(client, action_id: str, **body):
    return client.post(f"{ACTIONS}/{action_id}/execute", json=body)


def new_client(client, **fields) -> dict:
    return data_of(client.post(CLIENTS, json=fields), 201)


def propose(fake, *actions: dict, text: str = "Done.") -> None:
    """Script one model step proposing `actions`, then the final text."""
    fake.enqueue_tool_calls([("propose_action", action, f"call_{i}") for i, action in enumerate(actions)])
    fake.enqueue_text(text)


def suggest(client, fake, action: dict) -> dict:
    propose(fake, action)
    (suggested,) = data_of(client.post(CHAT, json={"content": "Suggest it"}))["suggestedActions"]
    return suggested


def tool_results(fake, request_index: int = -1) -> list[str]:
    return [m["content"] for m in fake.requests[request_index]["messages"] if m["role"] == "tool"]


def wait_for_status(client, action_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        action = data_of(client.get(f"{ACTIONS}/{action_id}"))
        if action["status"] in statuses:
            return action
        assert time.monotonic() < deadline, f"action stayed {action['status']}"
        time.sleep(0.05)


def db_rows(daemon, sql: str, params=()) -> list[sqlite3.Row]:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


TASK = {"type": "CREATE_TASK", "title": "Follow up with Acme Corp", "description": "Schedule a check-in call"}


# ---- chat --------------------------------------------------------------------------------------

def test_chat_returns_the_reply_suggested_actions_and_client_references(lars, fake):
    acme = new_client(lars, name="Acme Corp", domain="acme.com", healthScore=35, status="at_risk")
    globex = new_client(lars, name="Globex", domain="globex.com", healthScore=90)
    new_client(lars, name="Initech", domain="initech.com", healthScore=80)
    fake.enqueue_tool_call("list_at_risk_clients", {})
    propose(fake, {**TASK, "params": {"clientId": acme["id"], "title": "Check-in call",
                                      "dueAt": "2024-02-01T10:00:00Z"}},
            text="Acme Corp is at risk (health 35); Globex is fine. I suggested a check-in call.")

    response = lars.post(CHAT, json={"content": "Which clients are at risk?"})
    data = data_of(response)
    assert data["content"] == "Acme Corp is at risk (health 35); Globex is fine. I suggested a check-in call."
    (action,) = data["suggestedActions"]
    assert action == {"id": action["id"], "type": "CREATE_TASK", "title": "Follow up with Acme Corp",
                      "description": "Schedule a check-in call", "status": "SUGGESTED", "riskLevel": "low",
                      "params": {"clientId": acme["id"], "title": "Check-in call", "dueAt": "2024-02-01T10:00:00Z"}}
    assert data["clientReferences"] == [{"id": acme["id"], "name": "Acme Corp", "domain": "acme.com"},
                                        {"id": globex["id"], "name": "Globex", "domain": "globex.com"}]
    assert response.headers["X-RateLimit-Limit"] == "60"

    first = fake.requests[0]
    assert {t["function"]["name"] for t in first["tools"]} >= {
        "propose_action", "search_clients", "get_client", "list_at_risk_clients", "list_tasks"}
    assert "CREATE_TASK" in first["messages"][0]["content"] and "'default'" in first["messages"][0]["content"]
    assert "Acme Corp" in tool_results(fake, 1)[0] and "Globex" not in tool_results(fake, 1)[0]
    assert json.loads(tool_results(fake, 2)[1])["actionId"] == action["id"]

    stored = data_of(lars.get(f"{ACTIONS}/{action['id']}"))
    assert stored["conversationId"] == data["conversationId"] and stored["workspaceId"] == "default"
    conversation = daemon_conversation(lars, data["conversationId"])
    assert conversation["mode"] == "assistant"


def daemon_conversation(client, conversation_id: str) -> dict:
    response = httpx.get(f"{client.base_url}/api/chat/conversations/{conversation_id}",
                         headers={"X-API-Key": client.headers["X-API-Key"]})
    return response.json()


def test_a_conversation_continues_with_its_history(lars, fake):
    fake.enqueue_text("Hello, I am Lars.")
    first = data_of(lars.post(CHAT, json={"content": "Who are you?"}))
    assert first["suggestedActions"] == [] and first["clientReferences"] == []
    fake.enqueue_text("You asked who I am.")
    second = data_of(lars.post(CHAT, json={"content": "What did I ask?", "conversationId": first["conversationId"]}))
    assert second["conversationId"] == first["conversationId"]
    contents = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] in ("user", "assistant")]
    assert contents == ["Who are you?", "Hello, I am Lars.", "What did I ask?"]


def test_an_invalid_proposal_is_explained_to_the_model_and_not_stored(lars, fake):
    acme = new_client(lars, name="Acme Corp")
    propose(fake, {"type": "CREATE_TASK", "title": "x", "params": {"dueAt": "soon", "colour": "red"}},
            {"type": "UPDATE_CLIENT", "title": "x", "params": {"clientId": acme["id"], "healthScore": 250}},
            {"type": "CREATE_TASK", "title": "x", "params": {"title": "t", "clientId": "no-such-client"}},
            {"type": "DELETE_EVERYTHING", "title": "x", "params": {}},
            {"type": "UPDATE_CLIENT", "title": "x", "params": {"clientId": acme["id"]}},
            {"type": "CREATE_SCHEDULE", "title": "x", "params": {"name": "n", "interval": "whenever", "prompt": "p"}},
            {"type": "CREATE_TASK", "title": "", "params": {"title": "t"}})
    data = data_of(lars.post(CHAT, json={"content": "Do things"}))
    assert data["suggestedActions"] == []
    results = tool_results(fake)
    assert all(r.startswith("error: not proposed:") for r in results), results
    assert "params.title" in results[0] and "params.dueAt" in results[0] and "params.colour" in results[0]
    assert "params.healthScore" in results[1]
    assert "Client not found" in results[2]
    assert "unknown action type 'DELETE_EVERYTHING'" in results[3] and "CREATE_TASK" in results[3]
    assert "at least one of" in results[4]
    assert "whenever" in results[5]
    assert "title" in results[6]
    assert data_of(lars.get(ACTIONS)) == []


RISKS = [
    ({"type": "CREATE_TASK", "params": {"title": "t"}}, "low"),
    ({"type": "CREATE_TASK", "params": {"title": "t", "clientId": "{churned}"}}, "medium"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{task}", "priority": 0}}, "medium"),
    ({"type": "CREATE_SCHEDULE", "params": {"name": "n", "interval": "every day at 9am", "prompt": "p"}}, "medium"),
    ({"type": "RUN_WORKFLOW", "params": {"workflowId": "{workflow}"}}, "high"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{active}", "healthScore": 20}}, "medium"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{active}", "status": "churned"}}, "high"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{churned}", "notes": "gone"}}, "high"),
    ({"type": "SEND_NOTIFICATION", "params": {"title": "t", "message": "m"}}, "medium"),
    ({"type": "SEND_NOTIFICATION", "params": {"title": "t", "message": "m", "channelId": "{channel}"}}, "high"),
]


def test_stagent_decides_the_risk_from_the_type_and_its_target(daemon, lars, fake):
    ids = {"churned": new_client(lars, name="Oldco", status="churned")["id"],
           "active": new_client(lars, name="Newco")["id"],
           "task": daemon.client.post("/api/tasks", json={"title": "existing"}).json()["id"],
           "channel": daemon.client.post("/api/channels", json={
               "name": "hook", "channelType": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}}).json()["id"]}
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        ids["workflow"] = "wf-1"
        conn.execute("INSERT INTO workflows (id, name, definition, status, created_at, updated_at) "
                     "VALUES ('wf-1', 'Onboarding', '{}', 'draft', '2024-01-01', '2024-01-01')")
    actions = [{**case, "title": f"case {i}", "params": {k: v.format(**ids) if isinstance(v, str) else v
                                                          for k, v in case["params"].items()}}
               for i, (case, _) in enumerate(RISKS)]
    propose(fake, *[{**a, "riskLevel": "low"} for a in actions])  # what the model says about risk is ignored
    data = data_of(lars.post(CHAT, json={"content": "Suggest everything"}))
    assert [a["riskLevel"] for a in data["suggestedActions"]] == [risk for _, risk in RISKS], tool_results(fake)


def test_a_message_while_the_reply_is_in_progress_is_409(lars, fake):
    fake.enqueue_text("First.")
    conversation = data_of(lars.post(CHAT, json={"content": "hi"}))["conversationId"]
    fake.enqueue_text("Slow reply.", delay=1.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(lars.post, CHAT, json={"content": "slow", "conversationId": conversation})
        deadline = time.monotonic() + 20
        while len(fake.requests) < 2:  # the slow turn reached the provider
            assert time.monotonic() < deadline
            time.sleep(0.01)
        error_of(lars.post(CHAT, json={"content": "again", "conversationId": conversation}), 409,
                 "REPLY_IN_PROGRESS")
        assert data_of(slow.result())["content"] == "Slow reply."


# ---- error codes ------------------------------------------------------------------------------

def test_not_found_codes(daemon, lars, fake):
    error_of(lars.post(CHAT, json={"content": "hi", "conversationId": "nope"}), 404, "CONVERSATION_NOT_FOUND")
    stagent_chat = daemon.client.post("/api/chat/conversations", json={"runtimeId": "claude-code"}).json()
    error_of(lars.post(CHAT, json={"content": "hi", "conversationId": stagent_chat["id"]}), 404,
             "CONVERSATION_NOT_FOUND")
    message = error_of(execute(lars, "nope", autoApprove=True), 404, "ACTION_NOT_FOUND")
    assert message == "Action not found or unauthorized"
    error_of(lars.get(f"{ACTIONS}/nope"), 404, "ACTION_NOT_FOUND")
    error_of(lars.post(f"{ACTIONS}/nope/respond", json={"behavior": "allow"}), 404, "ACTION_NOT_FOUND")
    error_of(lars.get(f"{CLIENTS}/nope"), 404, "CLIENT_NOT_FOUND")

    acme = new_client(lars, name="Acme Corp")
    action = suggest(lars, fake, {**TASK, "params": {"title": "t", "clientId": acme["id"]}})
    data_of(lars.delete(f"{CLIENTS}/{acme['id']}"))
    assert acme["id"] in error_of(execute(lars, action["id"], autoApprove=True), 404, "CLIENT_NOT_FOUND")
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "SUGGESTED"  # nothing changed


@pytest.mark.parametrize("request_args,field", [
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "Malformed JSON"),
    ({"json": ["content"]}, "expected object"),
    ({"json": {}}, "content"),
    ({"json": {"content": "   "}}, "content"),
    ({"json": {"content": 42}}, "content"),
    ({"json": {"content": "hi", "conversationId": ""}}, "conversationId"),
])
def test_chat_validation_errors_name_the_field(lars, fake, request_args, field):
    response = lars.post(CHAT, **request_args)
    assert field in error_of(response, 400, "VALIDATION_ERROR")
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert fake.requests == []


def test_execute_validation_errors_name_the_field(lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    assert "autoApprove" in error_of(execute(lars, action["id"], autoApprove="yes"), 400, "VALIDATION_ERROR")
    assert "actionId" in error_of(execute(lars, action["id"], actionId="other", autoApprove=True), 400,
                                  "VALIDATION_ERROR")
    assert "behavior" in error_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "maybe"}), 400,
                                  "VALIDATION_ERROR")
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "SUGGESTED"


def test_every_failure_on_the_prefix_uses_the_envelope(daemon, lars, tmp_path):
    error_of(lars.get(CHAT), 405, "METHOD_NOT_ALLOWED")
    assert lars.get(CHAT).headers["Allow"] == "POST"
    error_of(lars.get("/api/ai-agent/nothing-here"), 404, "NOT_FOUND")
    error_of(lars.post(CHAT, json={"content": "hi"}, headers={"Origin": "http://evil.example"}), 403, "FORBIDDEN")
    small = Daemon(tmp_path / "small", max_body_bytes=100)
    try:
        with lars_client(small) as client:
            error_of(client.post(CHAT, json={"content": "x" * 200}), 413, "PAYLOAD_TOO_LARGE")
    finally:
        small.stop()


def test_auth_and_workspace_are_required(daemon, lars):
    with httpx.Client(base_url=daemon.url, headers={"X-Workspace-Id": "default"}) as anonymous:
        for method, path in (("POST", CHAT), ("POST", f"{ACTIONS}/x/execute"), ("GET", f"{ACTIONS}/x")):
            error_of(anonymous.request(method, path, json={"content": "hi"}), 401, "UNAUTHORIZED")
            error_of(anonymous.request(method, path, json={"content": "hi"}, headers={"X-API-Key": "stg_wrong"}), 401,
                     "UNAUTHORIZED")
    keys = {scope: daemon.client.post("/api/keys", json={"name": scope, "scopes": [scope]},
                                      headers={"X-API-Key": daemon.api_key}).json()["key"]
            for scope in ("ai-agent:chat", "ai-agent:actions")}
    with lars_client(daemon, key=keys["ai-agent:actions"]) as actions_only:
        assert "ai-agent:chat" in error_of(actions_only.post(CHAT, json={"content": "hi"}), 403, "INSUFFICIENT_SCOPE")
        assert "admin" in error_of(actions_only.post(f"{ACTIONS}/x/respond", json={"behavior": "allow"}), 403,
                                   "INSUFFICIENT_SCOPE")
    with lars_client(daemon, key=keys["ai-agent:chat"]) as chat_only:
        error_of(execute(chat_only, "x", autoApprove=True), 403, "INSUFFICIENT_SCOPE")
    with httpx.Client(base_url=daemon.url, headers={"X-API-Key": daemon.api_key}) as no_workspace:
        assert "X-Workspace-Id" in error_of(no_workspace.post(CHAT, json={"content": "hi"}), 400, "VALIDATION_ERROR")
    with lars_client(daemon, "no-such-project") as unknown:
        error_of(unknown.post(CHAT, json={"content": "hi"}), 404, "WORKSPACE_NOT_FOUND")


def test_no_provider_is_400_and_leaves_no_conversation(daemon):
    with lars_client(daemon) as lars:
        assert "provider" in error_of(lars.post(CHAT, json={"content": "hi"}), 400, "NO_PROVIDER").lower()
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations")[0][0] == 0


def test_provider_and_budget_failures_use_the_envelope(daemon, lars, fake, monkeypatch):
    fake.enqueue_error(400, "the model refused")
    error_of(lars.post(CHAT, json={"content": "hi"}), 502, "UPSTREAM_ERROR")
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")  # a priced model
    daemon.client.post("/api/settings/budgets", json={"overall": {"monthlySpendCapUsd": 0.001,
                                                                  "dailySpendCapUsd": 0.001}})
    requests_before = len(fake.requests)
    response = lars.post(CHAT, json={"content": "hi " * 50})
    assert "budget" in error_of(response, 429, "BUDGET_EXCEEDED").lower()
    assert "X-RateLimit-Remaining" in response.headers and len(fake.requests) == requests_before
    # the failed turn kept its message; the refused one left no empty conversation behind
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations WHERE mode = 'assistant'")[0][0] == 1


# ---- rate limits ------------------------------------------------------------------------------

class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_61st_chat_request_in_a_minute_is_429_and_the_window_slides(daemon, lars, fake):
    clock = Clock()
    daemon.app.state.lars.rate_limits.clock = clock
    for i in range(60):
        response = lars.post(CHAT, json={})  # a validation error counts like any request
        assert response.status_code == 400
        assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == (
            "60", str(59 - i))
        assert response.headers["X-RateLimit-Reset"] == "1700000060"  # when the oldest request leaves
        clock.now += 0.5
    limited = lars.post(CHAT, json={"content": "hi"})
    message = error_of(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert "60" in message and limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "30"  # the oldest request leaves the window at +60 s
    assert fake.requests == []

    with lars_client(daemon, new_project(daemon)) as other:  # another workspace has its own window
        assert other.post(CHAT, json={}).headers["X-RateLimit-Remaining"] == "59"
    assert lars.get(f"{ACTIONS}/x").headers["X-RateLimit-Remaining"] == "29"  # and actions their own bucket

    clock.now = 1_700_000_000.0 + 60.01  # the first request left the window: one slot
    fake.enqueue_text("Back.")
    response = lars.post(CHAT, json={"content": "hi"})
    assert data_of(response)["content"] == "Back." and response.headers["X-RateLimit-Remaining"] == "0"
    error_of(lars.post(CHAT, json={"content": "hi"}), 429, "RATE_LIMIT_EXCEEDED")


def test_the_31st_action_request_is_429(daemon, lars):
    daemon.app.state.lars.rate_limits.clock = Clock()
    for _ in range(30):
        error_of(execute(lars, "nope", autoApprove=True), 404, "ACTION_NOT_FOUND")
    limited = execute(lars, "nope", autoApprove=True)
    error_of(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert limited.headers["X-RateLimit-Limit"] == "30" and int(limited.headers["Retry-After"]) >= 1


def test_exactly_60_of_70_concurrent_chat_requests_are_admitted(daemon, lars, fake):
    daemon.app.state.lars.rate_limits.clock = Clock()  # all 70 fall in one window however slow the machine

    def ask(_):
        with lars_client(daemon) as client:
            return client.post(CHAT, json={"content": "hi"})

    with concurrent.futures.ThreadPoolExecutor(70) as pool:
        responses = list(pool.map(ask, range(70)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 60 + [429] * 10, [r.text for r in responses if r.status_code not in (200, 429)]
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200)
    assert remaining == list(range(60))
    assert len({data_of(r)["conversationId"] for r in responses if r.status_code == 200}) == 60


# ---- workspaces -------------------------------------------------------------------------------

def test_workspaces_never_cross(daemon, lars, fake):
    project_id = new_project(daemon, "Project X")
    with lars_client(daemon, project_id) as project:
        initech = new_client(project, name="Initech")
        propose(fake, {**TASK, "params": {"title": "in project", "clientId": initech["id"]}})
        data = data_of(project.post(CHAT, json={"content": "Suggest"}))
        (action,) = data["suggestedActions"]
        assert "'Project X'" in fake.requests[0]["messages"][0]["content"]

    # the default workspace sees none of it
    error_of(lars.post(CHAT, json={"content": "hi", "conversationId": data["conversationId"]}), 404,
             "CONVERSATION_NOT_FOUND")
    error_of(execute(lars, action["id"], autoApprove=True), 404, "ACTION_NOT_FOUND")
    error_of(lars.get(f"{ACTIONS}/{action['id']}"), 404, "ACTION_NOT_FOUND")
    assert data_of(lars.get(ACTIONS)) == []
    fake.enqueue_tool_calls([("search_clients", {"query": "Initech"}, "c1"), ("get_client", {"clientId": initech["id"]}, "c2")])
    fake.enqueue_text("Initech? I know no such client.")
    reply = data_of(lars.post(CHAT, json={"content": "Tell me about Initech"}))
    assert reply["clientReferences"] == []
    assert tool_results(fake) == ["[]", "error: Client not found in this workspace"]
    propose(fake, {**TASK, "params": {"title": "cross", "clientId": initech["id"]}})
    assert data_of(lars.post(CHAT, json={"content": "Suggest"}))["suggestedActions"] == []

    # executed in its own workspace, the task belongs to the project
    with lars_client(daemon, project_id) as project:
        result = data_of(execute(project, action["id"], autoApprove=True))
        assert result["metadata"]["clientId"] == initech["id"]
        assert daemon.client.get(f"/api/tasks/{result['result']['taskId']}").json()["projectId"] == project_id
        project_task = result["result"]["taskId"]
    propose(fake, {"type": "UPDATE_TASK", "title": "x", "params": {"taskId": project_task, "priority": 0}})
    assert data_of(lars.post(CHAT, json={"content": "Suggest"}))["suggestedActions"] == []
    assert "Task not found in this workspace" in tool_results(fake)[0]


def test_deleting_the_project_deletes_its_lars_conversations_and_actions(daemon, fake, llm_env):
    project_id = new_project(daemon)
    with lars_client(daemon, project_id) as project:
        suggest(project, fake, {**TASK, "params": {"title": "t"}})
    assert daemon.client.delete(f"/api/projects/{project_id}").status_code == 200
    assert db_rows(daemon, "SELECT COUNT(*) FROM lars_actions")[0][0] == 0
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations WHERE mode = 'assistant'")[0][0] == 0


def test_the_timestamp_is_iso_8601_utc(lars):
    body = lars.get(f"{ACTIONS}/nope").json()
    assert TIMESTAMP.match(body["timestamp"])

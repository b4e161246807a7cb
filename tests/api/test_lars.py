"""The Lars chat (POST /api/ai-agent/chat): the reply, suggested actions from scripted tool
calls, the risk stagent decides, client references, conversations. Shared helpers of the
tests/api/test_lars_*.py modules live here.

Everything runs against the real daemon (uvicorn, SQLite) and the scripted fake provider.
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import threading
import time

import httpx
import pytest

from tests.api.test_clients import data_of, error_of, lars_client

CHAT = "/api/ai-agent/chat"
ACTIONS = "/api/ai-agent/actions"
CLIENTS = "/api/ai-agent/clients"
TASK = {"type": "CREATE_TASK", "title": "Follow up with Acme Corp", "description": "Schedule a check-in call"}


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


def db_rows(daemon, sql: str, params=()) -> list[sqlite3.Row]:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def stored_action(daemon, action_id: str) -> dict:
    """The action as stored, read from the database (no API request, no rate-limit budget)."""
    (row,) = db_rows(daemon, "SELECT * FROM lars_actions WHERE id = ?", (action_id,))
    return {"status": row["status"], "error": row["error"], "riskLevel": row["risk_level"],
            "params": json.loads(row["params"]), "result": json.loads(row["result"]) if row["result"] else None}


def wait_for_status(daemon, action_id: str, statuses: set[str], timeout: float = 60) -> dict:
    """Wait (reading the database) until the action reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        action = stored_action(daemon, action_id)
        if action["status"] in statuses:
            return action
        assert time.monotonic() < deadline, f"action stayed {action['status']}"
        time.sleep(0.1)


def set_task_status(daemon, task_id: str, status: str) -> None:
    """Put a task in a status directly (a live run is not needed to judge an action's risk)."""
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE tasks SET status = ? WHERE id = ?", (status, task_id))


def daemon_conversation(client, conversation_id: str) -> dict:
    response = httpx.get(f"{client.base_url}/api/chat/conversations/{conversation_id}",
                         headers={"X-API-Key": client.headers["X-API-Key"]})
    return response.json()


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


def test_client_references_are_the_clients_the_reply_talks_about(lars, fake):
    """Named in the reply, fetched with get_client, or named by a suggested action; a client a
    search merely returned is not referenced."""
    acme = new_client(lars, name="Acme Corp", domain="acme.com")
    globex = new_client(lars, name="Globex", domain="globex.com")
    initech = new_client(lars, name="Initech", domain="initech.com")
    new_client(lars, name="Umbrella", domain="umbrella.com")
    fake.enqueue_tool_calls([("search_clients", {}, "c1"), ("get_client", {"clientId": globex["id"]}, "c2")])
    propose(fake, {**TASK, "params": {"title": "Call them", "clientId": initech["id"]}},
            text="Acme Corp looks fine. I suggested a call.")
    data = data_of(lars.post(CHAT, json={"content": "Who needs attention?"}))
    assert len(json.loads(tool_results(fake, 1)[0])) == 4  # the search returned all four
    assert data["clientReferences"] == [{"id": globex["id"], "name": "Globex", "domain": "globex.com"},
                                        {"id": initech["id"], "name": "Initech", "domain": "initech.com"},
                                        {"id": acme["id"], "name": "Acme Corp", "domain": "acme.com"}]

    fake.enqueue_tool_call("list_at_risk_clients", {"threshold": 100})
    fake.enqueue_text("Nothing to report.")
    assert data_of(lars.post(CHAT, json={"content": "Anything?"}))["clientReferences"] == []


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
    ({"type": "UPDATE_TASK", "params": {"taskId": "{planned}", "priority": 0}}, "medium"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{planned}", "status": "queued"}}, "medium"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{running}", "priority": 0}}, "medium"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{running}", "status": "cancelled"}}, "high"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{running}", "status": "failed"}}, "high"),
    ({"type": "UPDATE_TASK", "params": {"taskId": "{queued}", "status": "planned"}}, "high"),
    ({"type": "CREATE_SCHEDULE", "params": {"name": "n", "interval": "every day at 9am", "prompt": "p"}}, "high"),
    ({"type": "RUN_WORKFLOW", "params": {"workflowId": "{workflow}"}}, "high"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{active}", "healthScore": 20}}, "medium"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{active}", "status": "churned"}}, "high"),
    ({"type": "UPDATE_CLIENT", "params": {"clientId": "{churned}", "notes": "gone"}}, "high"),
    ({"type": "SEND_NOTIFICATION", "params": {"title": "t", "message": "m"}}, "medium"),
    ({"type": "SEND_NOTIFICATION", "params": {"title": "t", "message": "m", "channelId": "{channel}"}}, "high"),
]


def test_stagent_decides_the_risk_from_the_type_and_its_target(daemon, lars, fake):
    tasks = {name: daemon.client.post("/api/tasks", json={"title": name}).json()["id"]
             for name in ("planned", "running", "queued")}
    set_task_status(daemon, tasks["running"], "running")
    set_task_status(daemon, tasks["queued"], "queued")
    ids = {"churned": new_client(lars, name="Oldco", status="churned")["id"],
           "active": new_client(lars, name="Newco")["id"], **tasks,
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


def test_the_risk_is_decided_again_when_the_action_is_executed(daemon, lars, fake):
    """Cancelling a planned task is medium; once the task runs, cancelling it stops the run: high,
    so autoApprove no longer runs it at once."""
    task_id = daemon.client.post("/api/tasks", json={"title": "Quarterly report"}).json()["id"]
    action = suggest(lars, fake, {"type": "UPDATE_TASK", "title": "Cancel the report",
                                  "params": {"taskId": task_id, "status": "cancelled"}})
    assert action["riskLevel"] == "medium"
    set_task_status(daemon, task_id, "running")
    pending = data_of(execute(lars, action["id"], autoApprove=True))
    assert (pending["status"], pending["riskLevel"], pending["metadata"]["riskLevel"]) == (
        "PENDING_APPROVAL", "high", "high")
    assert daemon.client.get(f"/api/tasks/{task_id}").json()["status"] == "running"  # nothing ran


def test_a_message_while_the_reply_is_in_progress_is_409(lars, fake):
    fake.enqueue_text("First.")
    conversation = data_of(lars.post(CHAT, json={"content": "hi"}))["conversationId"]
    release = threading.Event()
    fake.enqueue_text("Held reply.", gate=release)  # held by the provider until the 409 is seen
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(lars.post, CHAT, json={"content": "slow", "conversationId": conversation})
        try:
            deadline = time.monotonic() + 60
            while len(fake.requests) < 2:  # the held turn reached the provider: it holds the conversation
                assert time.monotonic() < deadline and not held.done(), held.result() if held.done() else None
                time.sleep(0.02)
            error_of(lars.post(CHAT, json={"content": "again", "conversationId": conversation}), 409,
                     "REPLY_IN_PROGRESS")
        finally:
            release.set()
        assert data_of(held.result())["content"] == "Held reply."
    assert len(fake.requests) == 2  # the refused message never reached the provider

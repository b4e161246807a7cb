"""The Lars document's Python client, copied verbatim (only its base URL changed), against a real daemon.

The client is synchronous (`requests`); the daemon runs on real uvicorn in its own thread.
"""

from __future__ import annotations

import os

import pytest
import requests

from tests.api.test_clients import data_of, lars_client, new_project

# ---- from the Lars API reference, "Examples / Python" (base_url: the test daemon) -------------


class LarsClient:
    def __init__(self):
        self.base_url = os.environ['STANNA_BASE_URL']
        self.headers = {
            'X-API-Key': os.environ['STANNA_API_KEY'],
            'X-Workspace-Id': os.environ['STANNA_WORKSPACE_ID']
        }

    def ask(self, question):
        response = requests.post(
            f'{self.base_url}/api/ai-agent/chat',
            headers=self.headers,
            json={'content': question}
        )
        return response.json()

    def execute_action(self, action_id):
        response = requests.post(
            f'{self.base_url}/api/ai-agent/actions/{action_id}/execute',
            headers=self.headers,
            json={'autoApprove': True}
        )
        return response.json()


def example_usage():
    lars = LarsClient()
    result = lars.ask('Which clients are at risk?')
    print(result['data']['content'])

    if result['data']['suggestedActions']:
        action = result['data']['suggestedActions'][0]
        lars.execute_action(action['id'])

# ------------------------------------------------------------------------------------------------


@pytest.fixture
def workspace(daemon, llm_env, monkeypatch):
    """A project workspace with two clients, and the client's environment: a key holding only the
    two Lars scopes."""
    project_id = new_project(daemon, "Customer success")
    key = daemon.client.post("/api/keys", json={"name": "lars", "scopes": ["ai-agent:chat", "ai-agent:actions"]},
                             headers={"X-API-Key": daemon.api_key}).json()["key"]
    monkeypatch.setenv("STANNA_BASE_URL", daemon.url)
    monkeypatch.setenv("STANNA_API_KEY", key)
    monkeypatch.setenv("STANNA_WORKSPACE_ID", project_id)
    with lars_client(daemon, project_id) as admin:
        acme = data_of(admin.post("/api/ai-agent/clients", json={
            "name": "Acme Corp", "domain": "acme.com", "healthScore": 31, "status": "at_risk"}), 201)
        data_of(admin.post("/api/ai-agent/clients", json={"name": "Globex", "domain": "globex.com",
                                                          "healthScore": 92}), 201)
        yield {"projectId": project_id, "acme": acme, "admin": admin}


def test_the_documented_example_runs_unchanged(daemon, workspace, llm_env, capsys):
    acme = workspace["acme"]
    llm_env.enqueue_tool_call("list_at_risk_clients", {}, call_id="c1")
    llm_env.enqueue_tool_call("propose_action", {
        "type": "CREATE_TASK", "title": "Follow up with Acme Corp", "description": "Schedule a check-in call",
        "params": {"clientId": acme["id"], "title": "Check-in call", "dueAt": "2024-02-01T10:00:00Z"}},
        call_id="c2")
    llm_env.enqueue_text("Acme Corp is at risk with a health score of 31. I suggest a check-in call.")

    example_usage()

    assert capsys.readouterr().out == "Acme Corp is at risk with a health score of 31. I suggest a check-in call.\n"
    (action,) = data_of(workspace["admin"].get("/api/ai-agent/actions"))
    assert (action["status"], action["type"], action["riskLevel"]) == ("EXECUTED", "CREATE_TASK", "low")
    task = daemon.client.get(f"/api/tasks/{action['result']['taskId']}").json()
    assert (task["title"], task["projectId"]) == ("Check-in call", workspace["projectId"])


def test_the_client_reads_every_answer_in_the_documented_shapes(daemon, workspace, llm_env):
    lars = LarsClient()
    llm_env.enqueue_tool_call("propose_action", {"type": "CREATE_TASK", "title": "Call Acme",
                                                 "params": {"title": "Call", "clientId": workspace["acme"]["id"]}})
    llm_env.enqueue_text("Acme Corp needs a call.")
    result = lars.ask("What about Acme?")
    assert result["success"] is True
    assert set(result["data"]) == {"content", "conversationId", "suggestedActions", "clientReferences"}
    assert result["data"]["clientReferences"] == [{"id": workspace["acme"]["id"], "name": "Acme Corp",
                                                   "domain": "acme.com"}]
    action = result["data"]["suggestedActions"][0]

    executed = lars.execute_action(action["id"])
    assert executed["success"] is True and executed["data"]["success"] is True
    assert executed["data"]["metadata"]["actionType"] == "create_task"
    assert executed["data"]["metadata"]["clientId"] == workspace["acme"]["id"]
    assert set(executed["data"]["result"]) >= {"taskId", "title"}
    assert (executed["data"]["result"]["title"], executed["data"]["result"]["taskTitle"]) == ("Call Acme", "Call")

    again = lars.execute_action(action["id"])
    assert (again["success"], again["code"]) == (False, "INVALID_ACTION_STATUS")
    missing = lars.execute_action("no-such-action")
    assert (missing["success"], missing["code"], missing["error"]) == (False, "ACTION_NOT_FOUND",
                                                                       "Action not found or unauthorized")
    assert missing["timestamp"].endswith("Z")

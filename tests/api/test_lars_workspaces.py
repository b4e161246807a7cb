"""Lars workspaces: data and conversations never cross, and deleting a project deletes its
workspace's Lars data and closes its waiting approval requests."""

from __future__ import annotations

import json

import pytest

from tests.api.test_clients import data_of, error_of, lars_client, new_project
from tests.api.test_lars import CHAT, TASK, db_rows, execute, new_client, propose, suggest, tool_results

ACTIONS = "/api/ai-agent/actions"


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


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
    fake.enqueue_tool_calls([("search_clients", {"query": "Initech"}, "c1"),
                             ("get_client", {"clientId": initech["id"]}, "c2")])
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


def test_deleting_the_project_deletes_its_lars_data_and_closes_its_approvals(daemon, fake, llm_env):
    project_id = new_project(daemon)
    with lars_client(daemon, project_id) as project, lars_client(daemon) as default:
        suggest(project, fake, {**TASK, "params": {"title": "t"}})
        waiting = suggest(project, fake, {**TASK, "params": {"title": "waits for approval"}})
        approval = data_of(execute(project, waiting["id"]))["approvalId"]
        elsewhere = suggest(default, fake, {**TASK, "params": {"title": "another workspace"}})
        other_approval = data_of(execute(default, elsewhere["id"]))["approvalId"]
    pending = {p["notificationId"] for p in daemon.client.get("/api/notifications/pending-approvals").json()}
    assert pending == {approval, other_approval}

    assert daemon.client.delete(f"/api/projects/{project_id}").status_code == 200
    pending = [p["notificationId"] for p in daemon.client.get("/api/notifications/pending-approvals").json()]
    assert pending == [other_approval]  # only the other workspace's request still waits
    (closed,) = [n for n in daemon.client.get("/api/notifications").json() if n["id"] == approval]
    assert json.loads(closed["response"]) == {"behavior": "deny", "message": "The workspace was deleted"}
    assert closed["respondedAt"]
    assert [r["workspace"] for r in db_rows(daemon, "SELECT workspace FROM lars_actions")] == ["default"]
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations WHERE mode = 'assistant'")[0][0] == 1
    with lars_client(daemon, project_id) as gone:
        error_of(gone.get(ACTIONS), 404, "WORKSPACE_NOT_FOUND")

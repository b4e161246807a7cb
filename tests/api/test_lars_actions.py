"""Executing Lars actions (/api/ai-agent/actions/*/execute) with autoApprove: each action type's
real operation (tasks, clients, notifications, schedules), the documented result shape,
failures, concurrent executes, and listing actions.

Real daemon, real operations, the scripted fake provider. Approvals: test_lars_approvals.py.
"""

from __future__ import annotations

import concurrent.futures

import pytest

from tests.api.test_clients import data_of, error_of, lars_client
from tests.api.test_lars import ACTIONS, CLIENTS, TASK, execute, new_client, suggest


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


def test_execute_with_auto_approve_creates_the_real_task(daemon, lars, fake):
    acme = new_client(lars, name="Acme Corp", domain="acme.com")
    action = suggest(lars, fake, {**TASK, "params": {"clientId": acme["id"], "title": "Check-in call",
                                                     "dueAt": "2024-02-01T10:00:00Z", "priority": 1}})
    response = execute(lars, action["id"], actionId=action["id"], autoApprove=True)
    data = data_of(response)
    assert response.headers["X-RateLimit-Limit"] == "30"
    assert data["success"] is True and data["status"] == "EXECUTED"
    assert data["metadata"] == {"actionType": "create_task", "clientId": acme["id"], "riskLevel": "low"}
    task = daemon.client.get(f"/api/tasks/{data['result']['taskId']}").json()
    assert (task["title"], task["priority"], task["projectId"]) == ("Check-in call", 1, None)
    assert "Acme Corp" in task["description"] and "2024-02-01T10:00:00Z" in task["description"]
    # as the document's example: `title` is the action's; the created task's is `taskTitle`
    assert data["result"] == {"taskId": task["id"], "title": "Follow up with Acme Corp", "taskTitle": "Check-in call",
                              "status": "planned", "dueAt": "2024-02-01T10:00:00Z"}
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "EXECUTED"

    again = execute(lars, action["id"], autoApprove=True)
    assert "EXECUTED" in error_of(again, 400, "INVALID_ACTION_STATUS")
    assert again.headers["X-RateLimit-Remaining"] == "28"  # the read between spent nothing of it


def test_an_operation_that_fails_marks_the_action_failed(daemon, lars, fake):
    task_id = daemon.client.post("/api/tasks", json={"title": "to update"}).json()["id"]
    action = suggest(lars, fake, {"type": "UPDATE_TASK", "title": "Finish it", "params": {"taskId": task_id,
                                                                                        "status": "queued"}})
    assert daemon.client.delete(f"/api/tasks/{task_id}").status_code == 200
    data = data_of(execute(lars, action["id"], autoApprove=True))
    assert data["success"] is False and data["status"] == "FAILED" and task_id in data["error"]
    stored = data_of(lars.get(f"{ACTIONS}/{action['id']}"))
    assert (stored["status"], stored["error"]) == ("FAILED", data["error"])
    error_of(execute(lars, action["id"], autoApprove=True), 400, "INVALID_ACTION_STATUS")


def test_update_client_and_send_notification_do_their_real_operation(daemon, lars, fake):
    acme = new_client(lars, name="Acme Corp", healthScore=80)
    update = suggest(lars, fake, {"type": "UPDATE_CLIENT", "title": "Lower health",
                                  "params": {"clientId": acme["id"], "healthScore": 30, "notes": "escalation",
                                             "lastContactAt": "2024-03-01T00:00:00Z"}})
    assert data_of(execute(lars, update["id"], autoApprove=True))["status"] == "EXECUTED"
    client = data_of(lars.get(f"{CLIENTS}/{acme['id']}"))
    assert (client["healthScore"], client["notes"], client["lastContactAt"]) == (30, "escalation",
                                                                                 "2024-03-01T00:00:00Z")
    notify = suggest(lars, fake, {"type": "SEND_NOTIFICATION", "title": "Tell me",
                                  "params": {"title": "Acme is slipping", "message": "Health dropped to 30"}})
    result = data_of(execute(lars, notify["id"], autoApprove=True))["result"]
    (notification,) = [n for n in daemon.client.get("/api/notifications").json() if n["id"] == result["notificationId"]]
    assert (notification["title"], notification["body"]) == ("Acme is slipping", "Health dropped to 30")


def test_update_task_and_create_schedule_do_their_real_operation(daemon, lars, fake):
    task_id = daemon.client.post("/api/tasks", json={"title": "Quarterly review", "priority": 3}).json()["id"]
    update = suggest(lars, fake, {"type": "UPDATE_TASK", "title": "Make it urgent",
                                  "params": {"taskId": task_id, "priority": 0, "title": "Quarterly review (urgent)"}})
    result = data_of(execute(lars, update["id"], autoApprove=True))
    assert result["metadata"] == {"actionType": "update_task", "riskLevel": "medium"}
    task = daemon.client.get(f"/api/tasks/{task_id}").json()
    assert (task["priority"], task["title"]) == (0, "Quarterly review (urgent)")

    assert (result["result"]["title"], result["result"]["taskTitle"]) == ("Make it urgent", "Quarterly review (urgent)")


def test_create_schedule_is_high_risk_and_creates_the_schedule_once_approved(daemon, lars, fake):
    """A schedule runs an agent again and again with a prompt the model wrote: repeating spend."""
    schedule = suggest(lars, fake, {"type": "CREATE_SCHEDULE", "title": "Weekly health check",
                                    "params": {"name": "Health check", "interval": "every monday at 9am",
                                               "prompt": "Review the at-risk clients"}})
    assert schedule["riskLevel"] == "high"
    assert data_of(execute(lars, schedule["id"], autoApprove=True))["status"] == "PENDING_APPROVAL"
    assert daemon.client.get("/api/schedules").json() == []
    done = data_of(lars.post(f"{ACTIONS}/{schedule['id']}/respond", json={"behavior": "allow"}))
    created = done["result"]
    assert (done["status"], created["title"]) == ("EXECUTED", "Weekly health check")
    stored = daemon.client.get(f"/api/schedules/{created['scheduleId']}").json()
    assert (stored["name"], stored["prompt"], stored["cronExpression"], stored["projectId"]) == (
        "Health check", "Review the at-risk clients", created["cronExpression"], None)


def test_two_concurrent_executes_one_wins(lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "once"}})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: execute(lars, action["id"], autoApprove=True), range(2)))
    assert sorted(r.status_code for r in responses) == [200, 400]
    error_of(next(r for r in responses if r.status_code == 400), 400, "INVALID_ACTION_STATUS")


def test_list_actions_filters_by_status_and_conversation(lars, fake):
    first = suggest(lars, fake, {**TASK, "params": {"title": "one"}})
    second = suggest(lars, fake, {**TASK, "params": {"title": "two"}})
    data_of(execute(lars, first["id"], autoApprove=True))
    assert [a["id"] for a in data_of(lars.get(ACTIONS))] == [second["id"], first["id"]]
    assert [a["id"] for a in data_of(lars.get(ACTIONS, params={"status": "EXECUTED"}))] == [first["id"]]
    conversation = data_of(lars.get(f"{ACTIONS}/{second['id']}"))["conversationId"]
    assert [a["id"] for a in data_of(lars.get(ACTIONS, params={"conversationId": conversation}))] == [second["id"]]
    assert "status" in error_of(lars.get(ACTIONS, params={"status": "DONE"}), 400, "VALIDATION_ERROR")


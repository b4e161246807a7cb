"""Executing Lars actions (/api/ai-agent/actions/*): at once with autoApprove, or through the
governance approval flow (respond route, approval channels, inbox, deadline, restart).

Real daemon, real operations (tasks, clients, notifications), the scripted fake provider.
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3

import pytest

from tests.api.test_clients import data_of, error_of, lars_client
from tests.api.test_lars import (
    ACTIONS,
    CLIENTS,
    TASK,
    db_rows,
    execute,
    new_client,
    suggest,
    wait_for_status,
)
from tests.conftest import Daemon
from tests.engine.test_channel_approvals import approve_through, callback, received, webhook


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


# ---- execution --------------------------------------------------------------------------------

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
    assert data["result"] == {"taskId": task["id"], "title": "Check-in call", "status": "planned",
                              "dueAt": "2024-02-01T10:00:00Z"}
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "EXECUTED"

    again = execute(lars, action["id"], autoApprove=True)
    assert "EXECUTED" in error_of(again, 400, "INVALID_ACTION_STATUS")
    assert again.headers["X-RateLimit-Remaining"] == "27"


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

    schedule = suggest(lars, fake, {"type": "CREATE_SCHEDULE", "title": "Weekly health check",
                                    "params": {"name": "Health check", "interval": "every monday at 9am",
                                               "prompt": "Review the at-risk clients"}})
    created = data_of(execute(lars, schedule["id"], autoApprove=True))["result"]
    stored = daemon.client.get(f"/api/schedules/{created['scheduleId']}").json()
    assert (stored["name"], stored["prompt"], stored["cronExpression"], stored["projectId"]) == (
        "Health check", "Review the at-risk clients", created["cronExpression"], None)


def test_a_notification_to_a_channel_is_high_risk_and_is_delivered_once_approved(daemon, lars, fake, receiver):
    hook = daemon.client.post("/api/channels", json={"name": "ops", "channelType": "webhook",
                                                     "config": {"url": f"{receiver.url}/ops"}}).json()
    action = suggest(lars, fake, {"type": "SEND_NOTIFICATION", "title": "Alert the team",
                                  "params": {"title": "Acme at risk", "message": "Health 31", "channelId": hook["id"]}})
    assert action["riskLevel"] == "high"
    assert data_of(execute(lars, action["id"], autoApprove=True))["status"] == "PENDING_APPROVAL"
    done = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}))
    assert done["status"] == "EXECUTED" and len(done["result"]["deliveryIds"]) == 1
    [sent] = received(receiver, "/ops")
    assert (sent["json"]["subject"], sent["json"]["body"]) == ("Acme at risk", "Health 31")


def test_without_auto_approve_an_approval_runs_the_action(daemon, lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "Check-in call"}})
    pending = data_of(execute(lars, action["id"]))
    assert (pending["success"], pending["status"]) == (False, "PENDING_APPROVAL")
    approval_id = pending["approvalId"]
    (item,) = [p for p in daemon.client.get("/api/notifications/pending-approvals").json()
               if p["notificationId"] == approval_id]
    assert item["toolName"] == "LarsAction" and "CREATE_TASK: Follow up with Acme Corp" in item["compactSummary"]
    assert db_rows(daemon, "SELECT COUNT(*) FROM tasks")[0][0] == 0  # nothing ran yet
    error_of(execute(lars, action["id"], autoApprove=True), 400, "INVALID_ACTION_STATUS")

    done = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}))
    assert (done["success"], done["status"]) == (True, "EXECUTED")
    assert daemon.client.get(f"/api/tasks/{done['result']['taskId']}").json()["title"] == "Check-in call"
    error_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}), 400,
             "INVALID_ACTION_STATUS")


def test_a_high_risk_action_waits_for_approval_even_with_auto_approve_and_deny_rejects_it(daemon, lars, fake):
    acme = new_client(lars, name="Acme Corp")
    action = suggest(lars, fake, {"type": "UPDATE_CLIENT", "title": "Mark churned",
                                  "params": {"clientId": acme["id"], "status": "churned"}})
    assert action["riskLevel"] == "high"
    pending = data_of(execute(lars, action["id"], autoApprove=True))
    assert pending["status"] == "PENDING_APPROVAL" and pending["approvalId"]
    rejected = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "deny", "message": "No"}))
    assert (rejected["success"], rejected["status"], rejected["error"]) == (False, "REJECTED", "No")
    assert data_of(lars.get(f"{CLIENTS}/{acme['id']}"))["status"] == "active"
    notification = [n for n in daemon.client.get("/api/notifications").json() if n["id"] == pending["approvalId"]]
    assert json.loads(notification[0]["response"])["behavior"] == "deny"


def test_an_approval_answered_through_the_stagent_surfaces_is_honoured(daemon, lars, fake):
    """Deleting the request from the inbox denies it; the action is REJECTED."""
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    pending = data_of(execute(lars, action["id"], autoApprove=False))
    assert daemon.client.delete(f"/api/notifications/{pending['approvalId']}").status_code == 200
    assert wait_for_status(lars, action["id"], {"REJECTED"})["error"]


def test_an_approval_channel_can_answer_it(daemon, lars, fake, receiver):
    hook = webhook(daemon.client, receiver)
    approve_through(daemon.client, hook)
    action = suggest(lars, fake, {**TASK, "params": {"title": "approved from the webhook"}})
    pending = data_of(execute(lars, action["id"]))
    [sent] = received(receiver, "/hook")
    assert sent["json"]["metadata"]["notificationId"] == pending["approvalId"]
    assert sent["json"]["subject"].startswith("Approval required: CREATE_TASK")
    answer = callback(daemon.client, hook["id"], {"notificationId": pending["approvalId"], "action": "allow_once"})
    assert answer.status_code == 200, answer.text
    done = wait_for_status(lars, action["id"], {"EXECUTED", "FAILED", "REJECTED"})
    assert done["status"] == "EXECUTED"
    assert daemon.client.get(f"/api/tasks/{done['result']['taskId']}").json()["title"] == "approved from the webhook"


def test_an_unanswered_approval_is_rejected_at_its_deadline(daemon, lars, fake):
    daemon.client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 0.5})
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    data_of(execute(lars, action["id"]))
    rejected = wait_for_status(lars, action["id"], {"REJECTED", "EXECUTED"})
    assert (rejected["status"], rejected["error"]) == ("REJECTED", "Permission request timed out")


def test_run_workflow_fails_clearly_while_the_workflow_engine_is_missing(daemon, lars, fake):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO workflows (id, name, definition, status, created_at, updated_at) "
                     "VALUES ('wf-1', 'Onboarding', '{}', 'draft', '2024-01-01', '2024-01-01')")
    state = daemon.app.state
    engine = getattr(state, "workflows", None)
    if engine is not None:
        del state.workflows
    try:
        action = suggest(lars, fake, {"type": "RUN_WORKFLOW", "title": "Run onboarding",
                                      "params": {"workflowId": "wf-1"}})
        data_of(execute(lars, action["id"], autoApprove=True))
        failed = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}))
        assert failed["status"] == "FAILED" and "workflow engine is not available" in failed["error"]
    finally:
        if engine is not None:
            state.workflows = engine


def test_two_concurrent_executes_one_wins(lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "once"}})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: execute(lars, action["id"], autoApprove=True), range(2)))
    assert sorted(r.status_code for r in responses) == [200, 400]
    error_of(next(r for r in responses if r.status_code == 400), 400, "INVALID_ACTION_STATUS")


def test_a_pending_approval_survives_a_restart(tmp_path, llm_env):
    fake = llm_env
    first = Daemon(tmp_path / "data")
    try:
        with lars_client(first) as lars:
            waiting = suggest(lars, fake, {**TASK, "params": {"title": "after restart"}})
            expiring = suggest(lars, fake, {**TASK, "params": {"title": "expires"}})
            data_of(execute(lars, waiting["id"]))
            approval = data_of(execute(lars, expiring["id"]))["approvalId"]
    finally:
        first.stop()
    with sqlite3.connect(tmp_path / "data" / "stagent.db") as conn:  # its deadline passed while down
        conn.execute("UPDATE notifications SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (approval,))
    second = Daemon(tmp_path / "data")
    try:
        with lars_client(second) as lars:
            assert wait_for_status(lars, expiring["id"], {"REJECTED"})["error"] == "Permission request timed out"
            assert data_of(lars.get(f"{ACTIONS}/{waiting['id']}"))["status"] == "PENDING_APPROVAL"
            done = data_of(lars.post(f"{ACTIONS}/{waiting['id']}/respond", json={"behavior": "allow"}))
            assert done["status"] == "EXECUTED"
            assert second.client.get(f"/api/tasks/{done['result']['taskId']}").json()["title"] == "after restart"
    finally:
        second.stop()


def test_list_actions_filters_by_status_and_conversation(lars, fake):
    first = suggest(lars, fake, {**TASK, "params": {"title": "one"}})
    second = suggest(lars, fake, {**TASK, "params": {"title": "two"}})
    data_of(execute(lars, first["id"], autoApprove=True))
    assert [a["id"] for a in data_of(lars.get(ACTIONS))] == [second["id"], first["id"]]
    assert [a["id"] for a in data_of(lars.get(ACTIONS, params={"status": "EXECUTED"}))] == [first["id"]]
    conversation = data_of(lars.get(f"{ACTIONS}/{second['id']}"))["conversationId"]
    assert [a["id"] for a in data_of(lars.get(ACTIONS, params={"conversationId": conversation}))] == [second["id"]]
    assert "status" in error_of(lars.get(ACTIONS, params={"status": "DONE"}), 400, "VALIDATION_ERROR")

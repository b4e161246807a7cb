"""Lars actions through the governance approval flow: the respond route, the inbox (answer,
edit, always allow, delete), approval channels, the deadline, a restart, and RUN_WORKFLOW
against the real workflow engine.

Real daemon, real operations, the scripted fake provider. Action states are read from the
database while waiting, so no wait spends a rate-limit budget or depends on the daemon's speed.
"""

from __future__ import annotations

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
from tests.helpers.workflows import prompts, wait_status


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


def test_a_notification_to_a_channel_is_high_risk_and_is_delivered_once_approved(daemon, lars, fake, receiver):
    hook = daemon.client.post("/api/channels", json={"name": "ops", "channelType": "webhook",
                                                     "config": {"url": f"{receiver.url}/ops"}}).json()
    action = suggest(lars, fake, {"type": "SEND_NOTIFICATION", "title": "Alert the team",
                                  "params": {"title": "Acme at risk", "message": "Health 31", "channelId": hook["id"]}})
    assert action["riskLevel"] == "high"
    assert data_of(execute(lars, action["id"], autoApprove=True))["status"] == "PENDING_APPROVAL"
    done = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}))
    assert done["status"] == "EXECUTED" and len(done["result"]["deliveryIds"]) == 1
    assert done["result"]["title"] == "Alert the team"
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
    assert wait_for_status(daemon, action["id"], {"REJECTED"})["error"]


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
    done = wait_for_status(daemon, action["id"], {"EXECUTED", "FAILED", "REJECTED"})
    assert done["status"] == "EXECUTED"
    assert daemon.client.get(f"/api/tasks/{done['result']['taskId']}").json()["title"] == "approved from the webhook"


def test_an_unanswered_approval_is_rejected_at_its_deadline(daemon, lars, fake):
    daemon.client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 0.5})
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    data_of(execute(lars, action["id"]))
    rejected = wait_for_status(daemon, action["id"], {"REJECTED", "EXECUTED"})
    assert (rejected["status"], rejected["error"]) == ("REJECTED", "Permission request timed out")


def test_run_workflow_fails_clearly_while_the_workflow_engine_is_missing(daemon, lars, fake):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO workflows (id, name, definition, status, created_at, updated_at) "
                     "VALUES ('wf-1', 'Onboarding', '{}', 'draft', '2024-01-01', '2024-01-01')")
    lars_engine = daemon.app.state.lars
    engine = lars_engine.workflows
    lars_engine.workflows = None  # as a Lars built without a workflow engine
    try:
        action = suggest(lars, fake, {"type": "RUN_WORKFLOW", "title": "Run onboarding",
                                      "params": {"workflowId": "wf-1"}})
        data_of(execute(lars, action["id"], autoApprove=True))
        failed = data_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "allow"}))
        assert failed["status"] == "FAILED" and "workflow engine is not available" in failed["error"]
    finally:
        lars_engine.workflows = engine


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
            assert wait_for_status(second, expiring["id"], {"REJECTED"})["error"] == "Permission request timed out"
            assert data_of(lars.get(f"{ACTIONS}/{waiting['id']}"))["status"] == "PENDING_APPROVAL"
            done = data_of(lars.post(f"{ACTIONS}/{waiting['id']}/respond", json={"behavior": "allow"}))
            assert done["status"] == "EXECUTED"
            assert second.client.get(f"/api/tasks/{done['result']['taskId']}").json()["title"] == "after restart"
    finally:
        second.stop()


# ---- answers from the inbox (POST /api/notifications/{id}/respond) -----------------------------

def inbox_respond(daemon, notification_id: str, **body):
    return daemon.client.post(f"/api/notifications/{notification_id}/respond", json=body)


def test_params_edited_in_the_inbox_are_validated_and_applied(daemon, lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "Check-in call", "priority": 2}})
    approval = data_of(execute(lars, action["id"]))["approvalId"]
    answered = inbox_respond(daemon, approval, behavior="allow",
                             updatedInput={"params": {"title": "Check-in call with the CFO", "priority": 0}})
    assert answered.status_code == 200, answered.text
    done = wait_for_status(daemon, action["id"], {"EXECUTED", "FAILED"})
    assert done["status"] == "EXECUTED", done["error"]
    assert done["params"] == {"title": "Check-in call with the CFO", "priority": 0}  # what ran is what is stored
    task = daemon.client.get(f"/api/tasks/{done['result']['taskId']}").json()
    assert (task["title"], task["priority"]) == ("Check-in call with the CFO", 0)


@pytest.mark.parametrize("edited,reason", [
    ({"title": "t", "colour": "red"}, "params.colour"),
    ({"title": ""}, "params.title"),
    ({"title": "t", "clientId": "no-such-client"}, "Client not found"),
    ("not an object", "params must be an object"),
])
def test_an_invalid_edit_in_the_inbox_fails_the_action_with_the_reason(daemon, lars, fake, edited, reason):
    action = suggest(lars, fake, {**TASK, "params": {"title": "Check-in call"}})
    approval = data_of(execute(lars, action["id"]))["approvalId"]
    assert inbox_respond(daemon, approval, behavior="allow", updatedInput={"params": edited}).status_code == 200
    failed = wait_for_status(daemon, action["id"], {"EXECUTED", "FAILED"})
    assert failed["status"] == "FAILED" and failed["error"].startswith("The edited params are not valid")
    assert reason in failed["error"]
    assert failed["params"] == {"title": "Check-in call"}
    assert db_rows(daemon, "SELECT COUNT(*) FROM tasks")[0][0] == 0  # nothing ran


def test_always_allow_on_a_lars_approval_allows_once_and_saves_no_pattern(daemon, lars, fake):
    before = daemon.client.get("/api/permissions").json()["permissions"]
    first = suggest(lars, fake, {**TASK, "params": {"title": "first"}})
    approval = data_of(execute(lars, first["id"]))["approvalId"]
    answered = inbox_respond(daemon, approval, behavior="allow", alwaysAllow=True)
    assert answered.status_code == 200, answered.text
    assert "permissionPattern" not in json.loads(answered.json()["response"])
    assert wait_for_status(daemon, first["id"], {"EXECUTED", "FAILED"})["status"] == "EXECUTED"
    explicit = suggest(lars, fake, {**TASK, "params": {"title": "explicit pattern"}})
    approval = data_of(execute(lars, explicit["id"]))["approvalId"]
    assert inbox_respond(daemon, approval, behavior="allow", alwaysAllow=True,
                         permissionPattern="LarsAction").status_code == 200
    assert wait_for_status(daemon, explicit["id"], {"EXECUTED", "FAILED"})["status"] == "EXECUTED"
    assert daemon.client.get("/api/permissions").json()["permissions"] == before

    second = suggest(lars, fake, {**TASK, "params": {"title": "second"}})
    assert data_of(execute(lars, second["id"]))["status"] == "PENDING_APPROVAL"  # still asked


# ---- RUN_WORKFLOW against the real workflow engine ---------------------------------------------

def test_run_workflow_approved_from_the_inbox_runs_the_workflow(daemon, lars, fake):
    workflow = daemon.client.post("/api/workflows", json={"name": "Onboarding", "definition": {
        "pattern": "sequence", "steps": [{"id": "welcome", "name": "Welcome", "prompt": "Draft a welcome note."}]}})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["id"]
    action = suggest(lars, fake, {"type": "RUN_WORKFLOW", "title": "Run onboarding",
                                  "params": {"workflowId": workflow_id}})
    assert action["riskLevel"] == "high"
    pending = data_of(execute(lars, action["id"], autoApprove=True))
    assert pending["status"] == "PENDING_APPROVAL"
    assert any(p["notificationId"] == pending["approvalId"]
               for p in daemon.client.get("/api/notifications/pending-approvals").json())
    assert db_rows(daemon, "SELECT COUNT(*) FROM tasks")[0][0] == 0  # nothing started yet

    fake.enqueue_text("Welcome aboard, Acme!")  # the workflow step's answer
    assert inbox_respond(daemon, pending["approvalId"], behavior="allow").status_code == 200
    done = wait_for_status(daemon, action["id"], {"EXECUTED", "FAILED"})
    assert done["status"] == "EXECUTED", done["error"]
    assert done["result"] == {"workflowId": workflow_id, "runNumber": 1, "status": "started",
                              "title": "Run onboarding"}
    finished = wait_status(daemon.client, workflow_id, "completed", "failed", timeout=60)
    assert finished["status"] == "completed", finished
    assert "Draft a welcome note." in prompts(fake)[-1]
    (step,) = finished["steps"]
    assert "Welcome aboard, Acme!" in json.dumps(step["state"])


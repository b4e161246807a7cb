"""One approval timeout for tool approvals and workflow checkpoints (Settings, Approvals), and a
notification when a request was denied because nobody answered (issue 21)."""

from __future__ import annotations

from datetime import datetime

from tests.helpers.workflows import create, wait_status, wait_step


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def test_a_checkpoint_waits_as_long_as_the_approval_setting_then_says_it_timed_out(client, llm_env):
    r = client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 120})
    assert r.status_code == 200 and r.json()["requestTimeoutSeconds"] == 120
    definition = {"pattern": "checkpoint", "steps": [{"id": "a", "name": "A", "prompt": "a"},
                                                     {"id": "b", "name": "Send it", "prompt": "b",
                                                      "requiresApproval": True}]}
    workflow_id = create(client, definition)["id"]
    client.post(f"/api/workflows/{workflow_id}/execute")
    waiting = wait_step(client, workflow_id, "b", "waiting_approval")
    [request] = client.get("/api/notifications/pending-approvals").json()
    assert request["notificationId"] == waiting["notificationId"]
    assert round(seconds_between(request["createdAt"], request["expiresAt"])) == 120  # not the old fixed 300
    client.post(f"/api/workflows/{workflow_id}/cancel")

    client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 1})
    workflow_id = create(client, definition, name="Short")["id"]
    client.post(f"/api/workflows/{workflow_id}/execute")
    done = wait_status(client, workflow_id, "failed")
    step = next(s for s in done["steps"] if s["id"] == "b")
    assert step["state"]["error"] == "Checkpoint timed out after 1 s without an answer"
    told = [n for n in client.get("/api/notifications").json() if n["title"].startswith("No answer in time")]
    assert [n["title"] for n in told] == ["No answer in time: Workflow checkpoint: Send it"]
    assert told[0]["type"] == "agent_message" and "denied" in told[0]["body"]
    assert "/api/" not in told[0]["body"]
    answered = next(n for n in client.get("/api/notifications").json() if n["id"] == step["state"]["notificationId"])
    assert answered["response"] and "timed out" in answered["response"]

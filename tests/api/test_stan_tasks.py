"""/api/v1/stan/tasks: every route with its documented status codes, fields and scope errors."""

from __future__ import annotations

import pytest

from stagent.db.rows import to_iso
from stagent.engine.schedules.parse import next_fire_times

FIELDS = {"id", "name", "action", "schedule", "modelId", "status", "createdAt", "lastRunAt", "nextRunAt"}
BODY = {"name": "Daily workflow audit", "action": "audit_workflows", "schedule": "0 9 * * *",
        "modelId": "sonnet"}


@pytest.fixture
def stan(daemon):
    daemon.client.headers["X-API-Key"] = daemon.api_key
    return daemon.client


def test_create_get_list_update_delete(stan):
    r = stan.post("/api/v1/stan/tasks", json=BODY)
    assert r.status_code == 201
    task = r.json()
    assert set(task) == FIELDS
    assert (task["name"], task["action"], task["schedule"], task["modelId"], task["status"]) == (
        "Daily workflow audit", "audit_workflows", "0 9 * * *", "sonnet", "active")
    assert task["lastRunAt"] is None and task["nextRunAt"].endswith(":00.000Z")
    assert stan.get(f"/api/v1/stan/tasks/{task['id']}").json() == task
    assert [t["id"] for t in stan.get("/api/v1/stan/tasks").json()] == [task["id"]]

    r = stan.put(f"/api/v1/stan/tasks/{task['id']}", json={"name": "Updated task name", "schedule": "0 10 * * *"})
    assert (r.status_code, r.json()) == (200, {"updated": True})
    updated = stan.get(f"/api/v1/stan/tasks/{task['id']}").json()
    assert (updated["name"], updated["schedule"]) == ("Updated task name", "0 10 * * *")
    assert updated["nextRunAt"] == to_iso(next_fire_times("0 10 * * *", None, 1)[0])

    r = stan.delete(f"/api/v1/stan/tasks/{task['id']}")
    assert r.status_code == 204 and r.content == b""
    assert stan.get(f"/api/v1/stan/tasks/{task['id']}").status_code == 404
    assert stan.get("/api/v1/stan/tasks").json() == []


def test_the_same_schedule_is_seen_by_the_stagent_routes(stan):
    task = stan.post("/api/v1/stan/tasks", json={**BODY, "action": "Email me the weather"}).json()
    schedule = stan.get(f"/api/schedules/{task['id']}").json()
    assert schedule["cronExpression"] == task["schedule"] and schedule["modelId"] == "sonnet"
    assert schedule["prompt"] == "Email me the weather" and schedule["nextFireAt"] == task["nextRunAt"]
    heartbeat = stan.post("/api/schedules", json={
        "name": "beat", "interval": "hourly", "type": "heartbeat",
        "heartbeatChecklist": [{"id": "a", "instruction": "check", "priority": "low"}]}).json()
    assert [t["id"] for t in stan.get("/api/v1/stan/tasks").json()] == [task["id"]]
    assert stan.get(f"/api/v1/stan/tasks/{heartbeat['id']}").status_code == 404


def test_pause_and_resume(stan):
    task = stan.post("/api/v1/stan/tasks", json=BODY).json()
    r = stan.post(f"/api/v1/stan/tasks/{task['id']}/pause")
    assert (r.status_code, r.json()) == (200, {"paused": True})
    paused = stan.get(f"/api/v1/stan/tasks/{task['id']}").json()
    assert paused["status"] == "paused" and paused["nextRunAt"] is None
    assert stan.post(f"/api/v1/stan/tasks/{task['id']}/pause").json() == {"paused": True}
    r = stan.post(f"/api/v1/stan/tasks/{task['id']}/resume")
    assert (r.status_code, r.json()) == (200, {"resumed": True})
    resumed = stan.get(f"/api/v1/stan/tasks/{task['id']}").json()
    assert resumed["status"] == "active" and resumed["nextRunAt"] == task["nextRunAt"]
    for verb in ("pause", "resume"):
        r = stan.post(f"/api/v1/stan/tasks/missing/{verb}")
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in BODY.items() if k != "name"}, "name"),
    ({k: v for k, v in BODY.items() if k != "action"}, "action"),
    ({k: v for k, v in BODY.items() if k != "schedule"}, "schedule"),
    ({k: v for k, v in BODY.items() if k != "modelId"}, "modelId"),
    ({**BODY, "name": 5}, "name"),
])
def test_create_validation(stan, body, field):
    r = stan.post("/api/v1/stan/tasks", json=body)
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR" and field in r.json()["error"]
    assert stan.get("/api/v1/stan/tasks").json() == []


@pytest.mark.parametrize("cron, why", [
    ("61 9 * * *", "not a valid cron expression"),
    ("0 9 * *", "Could not parse"),
    ("* * * * * *", "has 6 fields"),
])
def test_an_invalid_cron_expression_is_a_400_that_says_why(stan, cron, why):
    r = stan.post("/api/v1/stan/tasks", json={**BODY, "schedule": cron})
    assert r.status_code == 400 and why in r.json()["error"], r.json()
    task = stan.post("/api/v1/stan/tasks", json=BODY).json()
    r = stan.put(f"/api/v1/stan/tasks/{task['id']}", json={"schedule": cron})
    assert r.status_code == 400
    assert stan.get(f"/api/v1/stan/tasks/{task['id']}").json()["schedule"] == "0 9 * * *"


def test_missing_tasks_are_404_in_the_stan_envelope(stan):
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", "")):
        r = stan.request(method, f"/api/v1/stan/tasks/nope{path}", json={} if method == "PUT" else None)
        assert r.status_code == 404 and set(r.json()) == {"error", "code"}


def test_scope_and_key_errors(daemon):
    client = daemon.client
    r = client.get("/api/v1/stan/tasks")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    r = client.get("/api/v1/stan/tasks", headers={"X-API-Key": "sk-stagent-wrong"})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    admin = {"X-API-Key": daemon.api_key}
    limited = client.post("/api/keys", headers=admin, json={"name": "ro", "scopes": ["stagent:read"]}).json()
    headers = {"X-API-Key": limited["key"]}
    for method, path in (("GET", "/api/v1/stan/tasks"), ("POST", "/api/v1/stan/tasks"),
                         ("POST", "/api/v1/stan/tasks/x/pause")):
        r = client.request(method, path, headers=headers, json=BODY if method == "POST" else None)
        assert r.status_code == 403 and r.json()["code"] == "INSUFFICIENT_SCOPE"
    allowed = client.post("/api/keys", headers=admin, json={"name": "stan", "scopes": ["stan:execute"]}).json()
    assert client.get("/api/v1/stan/tasks", headers={"X-API-Key": allowed["key"]}).status_code == 200

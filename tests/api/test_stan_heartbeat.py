"""/api/v1/stan/heartbeat: configuration, on-demand runs against real local state, history, scopes.

State is set up the way the daemon would find it: rows written with sqlite3 into the daemon's
own database file (failed and stuck tasks, overdue or failing schedules, failed deliveries,
ledger rows), models probed through litellm against the fake provider.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from stagent.db.rows import to_iso
from stagent.engine.schedules import heartbeat as heartbeat_checks
from tests.conftest import Daemon
from tests.helpers.receiver import Receiver

# The documented object, plus the extension deliveryChannels (decision 012).
CONFIG_KEYS = {"enabled", "checks", "intervalMinutes", "availableChecks", "deliveryChannels"}
DEFAULT = {"enabled": True, "checks": ["workflows", "deployments", "credits"], "intervalMinutes": 30,
           "availableChecks": ["workflows", "deployments", "credits", "models"], "deliveryChannels": []}
ROUTES = [("GET", "/api/v1/stan/heartbeat", None), ("PUT", "/api/v1/stan/heartbeat", {"enabled": False}),
          ("POST", "/api/v1/stan/heartbeat/run", None), ("GET", "/api/v1/stan/heartbeat/history", None)]


@pytest.fixture
def daemon(tmp_path):
    # No scheduler: nothing but the test touches schedules, tasks or the heartbeat.
    d = Daemon(tmp_path / "data", scheduler=False)
    yield d
    d.stop()


@pytest.fixture
def stan(daemon):
    daemon.client.headers["X-API-Key"] = daemon.api_key
    return daemon.client


def ago(**delta) -> str:
    return to_iso(datetime.now(UTC) - timedelta(**delta))


def sql(daemon, statement: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(daemon.data_dir / "stagent.db", isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(statement, params)
    finally:
        conn.close()


def add_task(daemon, title: str, status: str, updated: str, *, schedule_id: str | None = None,
             workflow_id: str | None = None, created: str | None = None) -> str:
    task_id = str(uuid.uuid4())
    sql(daemon, "INSERT INTO tasks (id, title, status, schedule_id, workflow_id, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?)", (task_id, title, status, schedule_id, workflow_id, created or updated, updated))
    return task_id


def add_log(daemon, task_id: str, at: str) -> None:
    sql(daemon, "INSERT INTO agent_logs (id, task_id, agent_type, event, payload, timestamp) VALUES (?,?,?,?,?,?)",
        (str(uuid.uuid4()), task_id, "test", "stream", "{}", at))


def add_schedule(daemon, name: str, *, status: str = "active", next_fire_at: str | None = None,
                 model_id: str | None = None) -> str:
    schedule_id = str(uuid.uuid4())
    sql(daemon, "INSERT INTO schedules (id, name, prompt, cron_expression, status, next_fire_at, model_id, "
                "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (schedule_id, name, "do it", "0 9 * * *", status, next_fire_at, model_id, ago(days=5), ago(days=5)))
    return schedule_id


def add_spend(daemon, dollars: float, at: str) -> None:
    sql(daemon, "INSERT INTO usage_ledger (id, activity_type, status, cost_micros, started_at, finished_at) "
                "VALUES (?,?,?,?,?,?)", (str(uuid.uuid4()), "task_run", "completed", round(dollars * 1e6), at, at))


def run(stan, checks: list[str]) -> dict:
    assert stan.put("/api/v1/stan/heartbeat", json={"checks": checks}).status_code == 200
    response = stan.post("/api/v1/stan/heartbeat/run")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "issues", "healthy"}
    assert body["issues"] == [r for r in body["results"] if r["status"] != "ok"]
    assert body["healthy"] is (not body["issues"])
    return body


def result(stan, check: str) -> dict:
    (only,) = run(stan, [check])["results"]
    assert set(only) == {"check", "status", "message"} and only["check"] == check
    return only


def on_loop(daemon, coro):
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(60)


def alerts(stan) -> list[dict]:
    return [n for n in stan.get("/api/notifications").json() if n["type"] == "heartbeat_alert"]


# ---- configuration ------------------------------------------------------------------------------

def test_get_returns_the_documented_object_with_its_defaults(stan):
    response = stan.get("/api/v1/stan/heartbeat")
    assert response.status_code == 200
    assert response.json() == DEFAULT and set(response.json()) == CONFIG_KEYS


def test_put_changes_only_the_fields_sent_and_persists(stan):
    r = stan.put("/api/v1/stan/heartbeat", json={"enabled": False, "checks": ["workflows", "deployments"],
                                                 "intervalMinutes": 60})
    assert r.status_code == 200
    assert r.json() == {**DEFAULT, "enabled": False, "checks": ["workflows", "deployments"], "intervalMinutes": 60}
    r = stan.put("/api/v1/stan/heartbeat", json={"intervalMinutes": 5.0})
    assert r.json()["intervalMinutes"] == 5 and r.json()["checks"] == ["workflows", "deployments"]
    r = stan.put("/api/v1/stan/heartbeat", json={"checks": ["models", "credits", "models"]})
    assert r.json()["checks"] == ["models", "credits"]
    assert stan.put("/api/v1/stan/heartbeat", json={}).json() == r.json()
    assert stan.put("/api/v1/stan/heartbeat", json={"checks": []}).json()["checks"] == []
    assert stan.get("/api/v1/stan/heartbeat").json() == {**DEFAULT, "enabled": False, "checks": [],
                                                         "intervalMinutes": 5}


@pytest.mark.parametrize(("body", "words"), [
    ({"intervalMinutes": 4}, "intervalMinutes: Too small: expected number to be >=5"),
    ({"intervalMinutes": 0}, "intervalMinutes"),
    ({"intervalMinutes": -30}, "intervalMinutes"),
    ({"intervalMinutes": 10081}, "intervalMinutes: Too big"),
    ({"intervalMinutes": 30.5}, "intervalMinutes"),
    ({"intervalMinutes": "30"}, "intervalMinutes"),
    ({"intervalMinutes": True}, "intervalMinutes"),
    ({"intervalMinutes": None}, "intervalMinutes"),
    ({"checks": ["workflows", "backups"]}, "Unknown check 'backups'. Available checks: workflows, deployments"),
    ({"checks": "workflows"}, "checks"),
    ({"checks": [1]}, "checks"),
    ({"checks": None}, "checks"),
    ({"enabled": "yes"}, "enabled: Invalid input: expected boolean"),
    ({"enabled": 1}, "enabled"),
    ({"enabled": None}, "enabled"),
    ({"enabled": False, "intervalMinutes": 1}, "intervalMinutes"),
])
def test_put_rejects_invalid_fields_and_changes_nothing(stan, body, words):
    r = stan.put("/api/v1/stan/heartbeat", json=body)
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR" and words in r.json()["error"]
    assert stan.get("/api/v1/stan/heartbeat").json() == DEFAULT


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"enabled"'])
def test_put_rejects_a_body_that_is_not_an_object(stan, raw):
    r = stan.put("/api/v1/stan/heartbeat", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
    assert stan.get("/api/v1/stan/heartbeat").json() == DEFAULT


# ---- scopes ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_needs_a_key_with_the_stan_scope(daemon, method, path, body):
    client = daemon.client
    r = client.request(method, path, json=body)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    admin = {"X-API-Key": daemon.api_key}
    reader = client.post("/api/keys", json={"name": "reader", "scopes": ["stagent:read", "stagent:write"]},
                         headers=admin).json()["key"]
    r = client.request(method, path, json=body, headers={"X-API-Key": reader})
    assert r.status_code == 403 and r.json()["code"] == "INSUFFICIENT_SCOPE"
    assert "stan:execute" in r.json()["error"]
    assert client.get("/api/v1/stan/heartbeat", headers=admin).json() == DEFAULT  # nothing changed
    stan_only = client.post("/api/keys", json={"name": "stan", "scopes": ["stan:execute"]},
                            headers=admin).json()["key"]
    assert client.request(method, path, json=body, headers={"X-API-Key": stan_only}).status_code == 200


# ---- workflows ---------------------------------------------------------------------------------

def test_workflows_is_ok_when_nothing_failed_or_hangs(daemon, stan):
    add_task(daemon, "old failure", "failed", ago(hours=30))
    fresh = add_task(daemon, "busy", "running", ago(hours=2))
    add_log(daemon, fresh, ago(minutes=2))
    add_task(daemon, "done", "completed", ago(minutes=1))
    found = result(stan, "workflows")
    assert found["status"] == "ok"
    assert found["message"] == "All workflows healthy: no tasks or workflows failed in the last 24 h, none stuck"


def test_workflows_reports_failed_tasks_as_a_warning(daemon, stan):
    add_task(daemon, "Nightly report", "failed", ago(hours=3))
    add_task(daemon, "Invoice sync", "failed", ago(minutes=5))
    add_task(daemon, "old failure", "failed", ago(hours=25))
    found = result(stan, "workflows")
    assert found["status"] == "warn"
    assert found["message"] == "2 tasks failed in the last 24 h: 'Invoice sync', 'Nightly report'"


def test_workflows_reports_running_tasks_without_log_lines_as_stuck(daemon, stan):
    quiet = add_task(daemon, "Quiet crawler", "running", ago(hours=2))
    add_log(daemon, quiet, ago(hours=2))
    add_log(daemon, quiet, ago(minutes=45))
    add_task(daemon, "Never logged", "running", ago(minutes=40))
    lively = add_task(daemon, "Lively", "running", ago(hours=3))
    add_log(daemon, lively, ago(minutes=29))
    add_task(daemon, "Just started", "running", ago(minutes=1))
    found = result(stan, "workflows")
    assert found["status"] == "error"
    assert found["message"].startswith("2 tasks running with no activity for over 30 min: "
                                       "'Quiet crawler', 'Never logged' (quiet since ")


def test_workflows_reports_failed_and_stalled_workflows(daemon, stan):
    def add_workflow(name, status, updated):
        workflow_id = str(uuid.uuid4())
        sql(daemon, "INSERT INTO workflows (id, name, definition, status, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?)", (workflow_id, name, "{}", status, updated, updated))
        return workflow_id

    add_workflow("Blog pipeline", "failed", ago(hours=1))
    add_workflow("Stalled review", "active", ago(hours=1))
    moving = add_workflow("Moving along", "active", ago(hours=1))
    add_task(daemon, "[Workflow] step", "queued", ago(hours=1), workflow_id=moving)
    add_workflow("Fresh", "active", ago(minutes=3))
    found = result(stan, "workflows")
    assert found["status"] == "error"
    assert "1 workflow failed in the last 24 h: 'Blog pipeline'" in found["message"]
    assert "1 workflow active with no step running for over 30 min: 'Stalled review'" in found["message"]


# ---- deployments -------------------------------------------------------------------------------

def test_deployments_without_schedules_says_so(stan):
    found = result(stan, "deployments")
    assert found["status"] == "ok" and found["message"].startswith("No schedules yet")


def test_deployments_ok_for_schedules_on_time(daemon, stan):
    add_schedule(daemon, "Morning brief", next_fire_at=to_iso(datetime.now(UTC) + timedelta(hours=1)))
    add_schedule(daemon, "Paused one", status="paused")
    add_schedule(daemon, "Just due", next_fire_at=ago(minutes=2))
    found = result(stan, "deployments")
    assert found == {"check": "deployments", "status": "ok",
                     "message": "2 active schedules on time, none failing; "
                                "no channel delivery failed in the last 24 h"}


def test_deployments_reports_overdue_schedules(daemon, stan):
    add_schedule(daemon, "Weekly digest", next_fire_at=ago(minutes=10))
    add_schedule(daemon, "Paused and old", status="paused", next_fire_at=ago(days=1))
    found = result(stan, "deployments")
    assert found["status"] == "error"
    assert found["message"].startswith("1 schedule overdue (the scheduler is not firing): 'Weekly digest' (due ")


def test_deployments_reports_schedules_whose_last_three_firings_failed(daemon, stan):
    failing = add_schedule(daemon, "Flaky scraper", next_fire_at=to_iso(datetime.now(UTC) + timedelta(hours=1)))
    recovered = add_schedule(daemon, "Recovered", next_fire_at=to_iso(datetime.now(UTC) + timedelta(hours=1)))
    for hours in (5, 4, 3, 2):
        add_task(daemon, "Flaky scraper — firing", "failed", ago(hours=hours), schedule_id=failing)
        add_task(daemon, "Recovered — firing", "failed" if hours != 2 else "completed", ago(hours=hours),
                 schedule_id=recovered)
    add_task(daemon, "Flaky scraper — firing", "running", ago(minutes=1), schedule_id=failing)
    add_task(daemon, "Recovered — firing", "failed", ago(hours=1), schedule_id=recovered)
    found = result(stan, "deployments")
    assert found["status"] == "error"
    assert found["message"] == "1 schedule failed on each of the last 3 firings: 'Flaky scraper'"


def test_deployments_reports_failed_channel_deliveries(daemon, stan):
    channel = str(uuid.uuid4())
    sql(daemon, "INSERT INTO channel_configs (id, channel_type, name, config, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?)", (channel, "webhook", "Ops webhook", "{}", ago(days=1), ago(days=1)))
    for status, at in (("failed", ago(hours=1)), ("failed", ago(hours=2)), ("delivered", ago(hours=1)),
                       ("failed", ago(hours=30))):
        sql(daemon, "INSERT INTO channel_deliveries (id, channel_id, subject, body, status, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?)", (str(uuid.uuid4()), channel, "s", "b", status, at, at))
    found = result(stan, "deployments")
    assert found == {"check": "deployments", "status": "warn",
                     "message": "2 channel deliveries failed in the last 24 h (Ops webhook: 2)"}


# ---- credits -----------------------------------------------------------------------------------

def test_credits_warns_when_no_provider_is_configured(stan):
    found = result(stan, "credits")
    assert found["status"] == "warn"
    assert found["message"].startswith("No LLM provider is configured, so tasks and schedules cannot run")
    assert found["message"].endswith("; $0.00 spent this month")


def test_credits_reports_the_providers_and_month_to_date_spend(llm_env, daemon, stan):
    add_spend(daemon, 1.25, ago(seconds=5))
    add_spend(daemon, 0.25, ago(seconds=2))
    add_spend(daemon, 40, ago(days=40))  # an earlier month
    found = result(stan, "credits")
    assert found == {"check": "credits", "status": "ok",
                     "message": "Providers configured: openai; $1.50 spent this month"}


@pytest.mark.parametrize(("cap", "status", "words"), [
    (10, "ok", "Providers configured: openai; $1.50 spent this month of the $10.00 monthly budget (15%)"),
    (1.75, "warn", "Monthly budget nearly used; $1.50 spent this month of the $1.75 monthly budget (86%)"),
    (1.5, "error", "Monthly budget exhausted; $1.50 spent this month of the $1.50 monthly budget (100%)"),
])
def test_credits_measures_spend_against_the_monthly_budget(llm_env, daemon, stan, cap, status, words):
    add_spend(daemon, 1.5, ago(seconds=5))
    policy = {"overall": {"monthlySpendCapUsd": cap, "dailySpendCapUsd": None}, "alertThreshold": 0.8}
    sql(daemon, "INSERT INTO settings (key, value, updated_at) VALUES (?,?,?)",
        ("usage.budgetPolicy", json.dumps(policy), ago(seconds=1)))
    assert result(stan, "credits") == {"check": "credits", "status": status, "message": words}


# ---- models ------------------------------------------------------------------------------------

def test_models_probes_each_model_in_use_with_one_token(llm_env, daemon, stan):
    add_schedule(daemon, "Uses another model", model_id="openai/fake-large",
                 next_fire_at=to_iso(datetime.now(UTC) + timedelta(hours=1)))
    add_schedule(daemon, "Paused model", status="paused", model_id="openai/not-probed")
    found = result(stan, "models")
    assert found == {"check": "models", "status": "ok",
                     "message": "2 models answered: openai/fake, openai/fake-large"}
    probes = llm_env.requests
    assert sorted(r["model"] for r in probes) == ["fake", "fake-large"]
    assert all(r.get("max_tokens", r.get("max_completion_tokens")) == 1 for r in probes)


def test_models_reports_a_model_that_does_not_answer(llm_env, stan):
    llm_env.enqueue_error(401, "invalid api key")
    found = result(stan, "models")
    assert found["status"] == "error"
    assert found["message"].startswith("openai/fake did not answer: ")
    assert "invalid api key" in found["message"] and found["message"].endswith("(0 of 1 answered)")
    assert "sk-test-env" not in found["message"]


def test_scheduled_ticks_probe_models_at_most_once_a_day(llm_env, daemon, stan):
    db = daemon.app.state.db
    stan.put("/api/v1/stan/heartbeat", json={"checks": ["models"]})
    monday = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def tick(now, probe=True):
        return on_loop(daemon, heartbeat_checks.run_stan_heartbeat(db, trigger="scheduled", models_probe=probe,
                                                                   now=now))

    first = tick(monday, probe=False)
    assert first["results"][0]["status"] == "ok" and first["results"][0]["message"].startswith("Not probed yet")
    assert llm_env.requests == []
    assert tick(monday)["results"][0]["message"] == "1 model answered: openai/fake"
    assert len(llm_env.requests) == 1
    llm_env.enqueue_error(500, "down")  # would be seen if the next tick probed again
    later = tick(monday + timedelta(hours=6))
    assert later["results"][0] == {"check": "models", "status": "ok",
                                   "message": "Last probed 2026-06-01T12:00:00.000Z: 1 model answered: openai/fake"}
    assert len(llm_env.requests) == 1
    llm_env.script.clear()
    llm_env.enqueue_error(401, "revoked")
    next_day = tick(monday + timedelta(days=1))
    assert next_day["results"][0]["status"] == "error" and len(llm_env.requests) == 2
    same_day = tick(monday + timedelta(days=1, hours=1))
    assert same_day["results"][0]["status"] == "error"  # the day's probe result, reused
    assert same_day["results"][0]["message"].startswith("Last probed 2026-06-02T12:00:00.000Z: openai/fake did not")
    assert len(llm_env.requests) == 2
    assert stan.post("/api/v1/stan/heartbeat/run").json()["healthy"] is True  # a manual run always probes
    assert len(llm_env.requests) == 3


# ---- runs, alerts and history ------------------------------------------------------------------

def test_an_unhealthy_run_alerts_once_per_new_or_worse_problem(daemon, stan):
    add_task(daemon, "Nightly report", "failed", ago(hours=1))
    first = run(stan, ["workflows", "deployments"])
    assert first["healthy"] is False and [i["check"] for i in first["issues"]] == ["workflows"]
    (alert,) = alerts(stan)
    assert alert["title"] == "Stan heartbeat: 1 issue (workflows)" and alert["taskId"] is None
    assert alert["body"] == "[warn] workflows: 1 task failed in the last 24 h: 'Nightly report'"

    run(stan, ["workflows", "deployments"])
    assert len(alerts(stan)) == 1  # the same problem again: no second alert

    add_task(daemon, "Hung", "running", ago(hours=1))
    worse = run(stan, ["workflows", "deployments"])
    assert worse["issues"][0]["status"] == "error"
    assert len(alerts(stan)) == 2

    sql(daemon, "UPDATE tasks SET status = 'completed'")
    assert run(stan, ["workflows", "deployments"])["healthy"] is True
    assert len(alerts(stan)) == 2


def test_history_lists_runs_newest_first(daemon, stan):
    assert stan.get("/api/v1/stan/heartbeat/history").json() == []
    run(stan, ["deployments"])
    add_task(daemon, "Broken", "failed", ago(minutes=1))
    latest = run(stan, ["workflows"])
    db = daemon.app.state.db
    on_loop(daemon, heartbeat_checks.run_stan_heartbeat(db, trigger="scheduled", models_probe=False))
    runs = stan.get("/api/v1/stan/heartbeat/history").json()
    assert [r["trigger"] for r in runs] == ["scheduled", "manual", "manual"]
    assert set(runs[1]) == {"id", "startedAt", "finishedAt", "trigger", "healthy", "results", "issues"}
    assert (runs[1]["healthy"], runs[1]["results"], runs[1]["issues"]) == (False, latest["results"], latest["issues"])
    assert runs[2]["healthy"] is True and runs[2]["issues"] == []
    assert runs[0]["startedAt"] >= runs[1]["startedAt"] >= runs[2]["startedAt"]
    assert [r["id"] for r in stan.get("/api/v1/stan/heartbeat/history?limit=2").json()] == [r["id"] for r in runs[:2]]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=2.5"])
def test_history_rejects_a_bad_limit(stan, query):
    r = stan.get(f"/api/v1/stan/heartbeat/history?{query}")
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR" and "limit" in r.json()["error"]


def test_the_scheduler_facing_functions(daemon, stan):
    db = daemon.app.state.db
    stan.put("/api/v1/stan/heartbeat", json={"enabled": False, "intervalMinutes": 15})
    config = on_loop(daemon, heartbeat_checks.load_config(db))
    assert config == {**DEFAULT, "enabled": False, "intervalMinutes": 15}
    with pytest.raises(ValueError):
        on_loop(daemon, heartbeat_checks.run_stan_heartbeat(db, trigger="cron", models_probe=False))
    # A damaged stored value reads as its default instead of breaking the heartbeat.
    sql(daemon, "UPDATE settings SET value = 'soon' WHERE key = 'stan.heartbeat.intervalMinutes'")
    assert stan.get("/api/v1/stan/heartbeat").json()["intervalMinutes"] == 30


def test_the_routes_are_described_in_openapi(stan):
    paths = stan.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/v1/stan/heartbeat"]) == {"get", "put"}
    assert "post" in paths["/api/v1/stan/heartbeat/run"] and "get" in paths["/api/v1/stan/heartbeat/history"]


def test_alerts_go_to_the_configured_delivery_channels(daemon, stan):
    receiver = Receiver()
    try:
        channel = stan.post("/api/channels", json={"name": "ops", "channelType": "webhook",
                                                   "config": {"url": f"{receiver.url}/ops"}}).json()
        r = stan.put("/api/v1/stan/heartbeat", json={"deliveryChannels": ["nope"]})
        assert r.status_code == 400 and "Unknown delivery channel" in r.json()["error"]
        r = stan.put("/api/v1/stan/heartbeat", json={"deliveryChannels": [channel["id"]]})
        assert r.json()["deliveryChannels"] == [channel["id"]]
        add_task(daemon, "broken", "failed", ago(minutes=5))
        assert run(stan, ["workflows"])["healthy"] is False
        wait = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < wait:
            time.sleep(0.02)
        assert receiver.requests[0]["json"]["subject"].startswith("Stan heartbeat: 1 issue (workflows)")
        assert run(stan, ["workflows"])["healthy"] is False  # the same issue again: no second alert
        # Deliveries are recorded before /run answers: the channel has exactly one.
        assert len(stan.get(f"/api/channels/{channel['id']}/deliveries").json()) == 1
    finally:
        receiver.server.stop()

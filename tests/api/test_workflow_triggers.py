"""Workflow triggers: a webhook-trigger node's URL starts a run; a schedule-trigger node's schedule
fires the workflow; both follow the node (edit, removal) and go with the workflow."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import pytest

from stagent.store import workflows as workflow_store
from tests.conftest import Daemon
from tests.helpers.scheduling import history, scheduled_daemon, utc, wait_until

HOOK = {"id": "webhook-1a2b3c4d", "name": "On push", "type": "webhook-trigger", "config": {}}


def schedule_node(config: dict, node_id: str = "schedule-5e6f7a8b") -> dict:
    return {"id": node_id, "name": "Nightly", "type": "schedule-trigger", "config": config}


def run(daemon: Daemon, coro):
    """An engine/store call on the daemon's own loop (the workflow routes belong to another module)."""
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(20)


def make_workflow(daemon: Daemon, triggers: list[dict], name: str = "Hooked") -> dict:
    definition = {"pattern": "sequence", "triggers": triggers,
                  "steps": [{"id": "step-1", "name": "Summarise", "prompt": "Summarise what came in."}]}
    return run(daemon, workflow_store.create_workflow(daemon.app.state.db, name=name, definition=definition))


def set_triggers(daemon: Daemon, workflow_id: str, triggers: list[dict]) -> None:
    def change(definition):
        definition["triggers"] = triggers

    run(daemon, workflow_store.edit_definition(daemon.app.state.db, workflow_id, change))


def triggers_of(client, workflow_id: str) -> list[dict]:
    r = client.get(f"/api/workflows/{workflow_id}/triggers")
    assert r.status_code == 200, r.text
    assert r.json()["workflowId"] == workflow_id
    return r.json()["triggers"]


def hook_url(client, workflow_id: str) -> str:
    [trigger] = [t for t in triggers_of(client, workflow_id) if t["kind"] == "webhook"]
    return trigger["url"]


# ---- listing and syncing -------------------------------------------------------------------

def test_unknown_workflow_is_404(client):
    for r in (client.get("/api/workflows/nope/triggers"), client.post("/api/workflows/nope/triggers/sync")):
        assert r.status_code == 404 and r.json() == {"error": "Workflow not found"}  # the catalog's message


def test_a_webhook_node_gets_a_stable_url_that_goes_with_the_node(daemon, client):
    workflow = make_workflow(daemon, [HOOK])
    [trigger] = triggers_of(client, workflow["id"])
    assert trigger["nodeId"] == HOOK["id"] and trigger["name"] == "On push"
    assert (trigger["kind"], trigger["type"]) == ("webhook", "webhook-trigger") and trigger["id"]
    assert "token" not in trigger
    prefix = f"{daemon.url}/api/workflows/hooks/"
    assert trigger["url"].startswith(prefix) and len(trigger["url"]) - len(prefix) >= 40
    synced = client.post(f"/api/workflows/{workflow['id']}/triggers/sync")
    assert synced.status_code == 200 and synced.json()["triggers"] == [trigger]
    assert triggers_of(client, workflow["id"]) == [trigger]  # the same URL every time

    set_triggers(daemon, workflow["id"], [])
    assert triggers_of(client, workflow["id"]) == []
    gone = client.post(trigger["url"], json={})
    assert gone.status_code == 404 and gone.json() == {"error": "Webhook not found"}
    set_triggers(daemon, workflow["id"], [HOOK])
    assert hook_url(client, workflow["id"]) != trigger["url"]  # a node added again gets a new secret


def test_a_removed_node_stops_its_url_even_before_anyone_syncs(daemon, client):
    workflow = make_workflow(daemon, [HOOK])
    url = hook_url(client, workflow["id"])
    set_triggers(daemon, workflow["id"], [])  # an edit (as Stan's tools make) with no sync after it
    assert client.post(url).status_code == 404


def test_unknown_hook_token_is_404(client):
    r = client.post("/api/workflows/hooks/not-a-token", content=b"hello")
    assert r.status_code == 404 and r.json() == {"error": "Webhook not found"}
    assert client.get("/api/workflows/hooks/not-a-token").status_code == 405


def test_the_hook_needs_no_api_key_when_keys_are_required(daemon, client):
    workflow = make_workflow(daemon, [HOOK])
    url = hook_url(client, workflow["id"])
    admin = {"X-API-Key": daemon.api_key}
    assert client.put("/api/settings/security", json={"requireApiKey": True}, headers=admin).status_code == 200
    try:
        assert client.get(f"/api/workflows/{workflow['id']}/triggers").status_code == 401
        assert client.post("/api/workflows/hooks/not-a-token").status_code == 404  # reached, not 401
        assert client.post("/api/workflows/hooks/a/b").status_code == 401  # only the hook path itself
        # ... and only POST: other methods reach workflow routes with the id "hooks"
        assert client.get(url).status_code == 401
        assert client.get("/api/workflows/hooks/triggers").status_code == 401
        assert client.delete("/api/workflows/hooks/documents").status_code == 401
        assert client.post(url, headers={"X-API-Key": "wrong"}).status_code == 401
    finally:
        client.put("/api/settings/security", json={"requireApiKey": False}, headers=admin)


def test_a_hook_body_over_64_kb_is_413(daemon, client):
    workflow = make_workflow(daemon, [HOOK])
    r = client.post(hook_url(client, workflow["id"]), content=b"x" * (64 * 1024 + 1))
    assert r.status_code == 413 and "64 KB" in r.json()["error"]


# ---- schedules -----------------------------------------------------------------------------

def test_a_schedule_node_creates_updates_and_removes_its_schedule(daemon, client):
    workflow = make_workflow(daemon, [schedule_node({"interval": "every 15 minutes"})])
    [trigger] = triggers_of(client, workflow["id"])
    assert (trigger["kind"], trigger["cronExpression"], trigger["status"]) == ("schedule", "*/15 * * * *", "active")
    assert trigger["nextFireAt"] and "error" not in trigger
    schedule = client.get(f"/api/schedules/{trigger['scheduleId']}").json()
    assert schedule["workflowId"] == workflow["id"] and schedule["name"] == "Hooked — Nightly"
    assert [s["id"] for s in client.get("/api/schedules").json()] == [schedule["id"]]
    assert triggers_of(client, workflow["id"]) == [trigger]  # a second sync changes nothing

    set_triggers(daemon, workflow["id"], [schedule_node({"cron": "0 9 * * 1", "timeZone": "Europe/Berlin"})])
    [edited] = triggers_of(client, workflow["id"])
    assert edited["scheduleId"] == schedule["id"]
    assert (edited["cronExpression"], edited["timeZone"]) == ("0 9 * * 1", "Europe/Berlin")
    run(daemon, workflow_store.rename_workflow(daemon.app.state.db, workflow["id"], "Renamed"))
    triggers_of(client, workflow["id"])
    assert client.get(f"/api/schedules/{schedule['id']}").json()["name"] == "Renamed — Nightly"

    # A config that cannot make a schedule is reported; the schedule keeps its last good one.
    set_triggers(daemon, workflow["id"], [schedule_node({"interval": "whenever it rains"})])
    [bad] = triggers_of(client, workflow["id"])
    assert "Could not parse" in bad["error"] and bad["cronExpression"] == "0 9 * * 1"
    # No interval at all: no schedule.
    set_triggers(daemon, workflow["id"], [schedule_node({})])
    [empty] = triggers_of(client, workflow["id"])
    assert empty["scheduleId"] is None and "config.interval" in empty["error"] and empty["id"]
    assert client.get(f"/api/schedules/{schedule['id']}").status_code == 404
    set_triggers(daemon, workflow["id"], [schedule_node({"interval": "daily at 7am"})])
    [again] = triggers_of(client, workflow["id"])
    assert again["cronExpression"] == "0 7 * * *" and again["scheduleId"] != schedule["id"]

    set_triggers(daemon, workflow["id"], [])
    assert triggers_of(client, workflow["id"]) == []
    assert client.get("/api/schedules").json() == []


def test_a_schedule_deleted_by_hand_is_made_again_while_the_node_exists(daemon, client):
    workflow = make_workflow(daemon, [schedule_node({"interval": "hourly"})])
    [first] = triggers_of(client, workflow["id"])
    assert client.delete(f"/api/schedules/{first['scheduleId']}").status_code == 200
    [second] = triggers_of(client, workflow["id"])
    assert second["scheduleId"] not in (None, first["scheduleId"]) and second["id"] == first["id"]


def test_a_workflow_schedule_cannot_be_run_now(daemon, client):
    workflow = make_workflow(daemon, [schedule_node({"interval": "hourly"})])
    [trigger] = triggers_of(client, workflow["id"])
    r = client.post(f"/api/schedules/{trigger['scheduleId']}/execute")
    assert r.status_code == 409 and f"/api/workflows/{workflow['id']}/execute" in r.json()["error"]


def test_deleting_the_workflow_removes_its_tokens_and_schedules(daemon, client):
    workflow = make_workflow(daemon, [HOOK, schedule_node({"interval": "hourly"})])
    hook, timer = sorted(triggers_of(client, workflow["id"]), key=lambda t: t["kind"] != "webhook")
    db = daemon.app.state.db
    run(daemon, db.write(lambda conn: conn.execute("DELETE FROM workflows WHERE id = ?", (workflow["id"],))))
    assert client.post(hook["url"]).status_code == 404
    assert client.get(f"/api/schedules/{timer['scheduleId']}").status_code == 404
    assert run(daemon, db.scalar("SELECT COUNT(*) FROM workflow_triggers")) == 0


def test_start_up_syncs_workflows_edited_while_nothing_synced(tmp_path):
    first = Daemon(tmp_path / "data")
    try:
        workflow = make_workflow(first, [schedule_node({"interval": "every 30 minutes"})])
    finally:
        first.stop()
    second = Daemon(tmp_path / "data")
    try:
        [schedule] = wait_until(lambda: second.client.get("/api/schedules").json(), what="the start-up sync")
        assert schedule["workflowId"] == workflow["id"] and schedule["cronExpression"] == "*/30 * * * *"
    finally:
        second.stop()


# ---- runs (through the workflow engine) ----------------------------------------------------

def test_the_hook_starts_a_run_with_its_body_as_input(daemon, client, llm_env):
    llm_env.enqueue_hang()
    workflow = make_workflow(daemon, [HOOK])
    url = hook_url(client, workflow["id"])
    r = client.post(url, json={"order": 4242, "item": "teapot"})
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "started", "workflowId": workflow["id"], "runNumber": 1}
    wait_until(lambda: llm_env.requests, what="the first step's model call")
    assert "4242" in json.dumps(llm_env.requests[0]) and "teapot" in json.dumps(llm_env.requests[0])
    busy = client.post(url, content=b"again")
    assert busy.status_code == 409 and busy.json()["error"]


def test_the_hook_of_a_workflow_that_cannot_run_is_400(daemon, client):
    workflow = run(daemon, workflow_store.create_workflow(  # a draft with no steps yet (Stan builds them)
        daemon.app.state.db, name="Empty", definition={"pattern": "sequence", "steps": [], "triggers": [HOOK]}))
    r = client.post(hook_url(client, workflow["id"]), content=b"hi")
    assert r.status_code == 400 and r.json()["error"]


@pytest.fixture
def sched(tmp_path, llm_env):
    daemon, clock = scheduled_daemon(tmp_path / "data", utc(2026, 3, 2, 8, 0))
    yield daemon, clock
    daemon.stop()


def test_the_schedule_fires_the_workflow_and_records_it(sched, fake):
    daemon, clock = sched
    client = daemon.client
    fake.enqueue_hang()
    workflow = make_workflow(daemon, [schedule_node({"cron": "0 9 * * *", "timeZone": "UTC"})])
    [trigger] = triggers_of(client, workflow["id"])
    assert trigger["nextFireAt"] == "2026-03-02T09:00:00.000Z"
    clock.set(utc(2026, 3, 2, 9, 0))
    [fired] = wait_until(lambda: [h for h in history(client, trigger["scheduleId"]) if h["reason"]],
                         what="the firing's outcome")
    assert (fired["number"], fired["outcome"], fired["reason"]) == (1, "started", "workflow run #1")
    assert fired["taskId"] is None  # the run's steps are the workflow's tasks, not the schedule's
    wait_until(lambda: fake.requests, what="the run's first model call")
    # The next slot comes while that run still goes: recorded as skipped, as a task overlap is.
    clock.set(utc(2026, 3, 3, 9, 0))
    latest = wait_until(lambda: [h for h in history(client, trigger["scheduleId"]) if h["slot"] != fired["slot"]
                                 and h["reason"]], what="the second slot's outcome")[0]
    assert latest["outcome"] == "skipped" and latest["reason"]
    after = client.get(f"/api/schedules/{trigger['scheduleId']}").json()  # only a started run counts
    assert after["firingCount"] == 1 and after["lastFiredAt"] == "2026-03-02T09:00:00.000Z"
    assert after["nextFireAt"] == "2026-03-04T09:00:00.000Z"


def test_edits_through_the_api_sync_the_triggers_without_being_asked(daemon, client):
    definition = {"pattern": "sequence", "triggers": [schedule_node({"interval": "every 15 minutes"})],
                  "steps": [{"id": "step-1", "name": "Summarise", "prompt": "Summarise."}]}
    r = client.post("/api/workflows", json={"name": "Synced", "definition": definition})
    assert r.status_code == 201, r.text
    workflow_id = r.json()["id"]
    [schedule] = wait_until(lambda: client.get("/api/schedules").json())  # nobody asked for the triggers
    assert (schedule["workflowId"], schedule["cronExpression"]) == (workflow_id, "*/15 * * * *")

    assert schedule["name"] == "Synced — Nightly"
    assert client.patch(f"/api/workflows/{workflow_id}", json={"name": "Renamed"}).status_code == 200
    wait_until(lambda: client.get("/api/schedules").json()[0]["name"] == "Renamed — Nightly",
               what="a rename to rename the schedule")

    definition["triggers"] = []
    assert client.patch(f"/api/workflows/{workflow_id}", json={"definition": definition}).status_code == 200
    wait_until(lambda: client.get("/api/schedules").json() == [])


def test_a_firing_is_starting_until_its_workflow_start_is_recorded(sched):
    daemon, clock = sched
    client, engine = daemon.client, daemon.app.state.workflows
    workflow = make_workflow(daemon, [schedule_node({"cron": "0 9 * * *", "timeZone": "UTC"})])
    [trigger] = triggers_of(client, workflow["id"])
    held, release = threading.Event(), asyncio.Event()

    async def hold_the_workflow():  # the workflow is busy (a lifecycle change): its start waits
        async with engine._locks.hold(workflow["id"]):
            held.set()
            await release.wait()

    holder = asyncio.run_coroutine_threadsafe(hold_the_workflow(), daemon.loop)
    assert held.wait(10)
    try:
        clock.set(utc(2026, 3, 2, 9, 0))
        [claimed] = wait_until(lambda: history(client, trigger["scheduleId"]), what="the slot's claim")
        assert (claimed["outcome"], claimed["reason"]) == ("starting", None)  # not yet a run
        assert client.get(f"/api/schedules/{trigger['scheduleId']}").json()["firingCount"] == 0
    finally:
        daemon.loop.call_soon_threadsafe(release.set)
        holder.result(10)
    [fired] = wait_until(lambda: [h for h in history(client, trigger["scheduleId"]) if h["outcome"] != "starting"],
                         what="the firing's outcome")
    assert (fired["outcome"], fired["reason"]) == ("started", "workflow run #1")


def test_a_firing_cut_off_before_its_outcome_is_failed_at_the_next_start(tmp_path, llm_env):
    data_dir = tmp_path / "data"
    daemon, _ = scheduled_daemon(data_dir, utc(2026, 3, 2, 8, 0))
    try:
        workflow = make_workflow(daemon, [schedule_node({"cron": "0 9 * * *", "timeZone": "UTC"})])
        [trigger] = triggers_of(daemon.client, workflow["id"])
    finally:
        daemon.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:  # claimed, then the daemon died
        conn.execute("INSERT INTO schedule_firings (id, schedule_id, slot, number, outcome, fired_at) "
                     "VALUES ('cut-off', ?, '2026-03-01T09:00:00.000Z', 1, 'starting', '2026-03-01T09:00:00.000Z')",
                     (trigger["scheduleId"],))
    daemon, _ = scheduled_daemon(data_dir, utc(2026, 3, 2, 8, 30))
    try:
        [firing] = wait_until(lambda: [h for h in history(daemon.client, trigger["scheduleId"])
                                       if h["outcome"] != "starting"], what="the cut-off firing to be failed")
        assert (firing["outcome"], firing["reason"]) == (
            "failed", "the daemon stopped before the workflow start was recorded")
        assert daemon.client.get(f"/api/schedules/{trigger['scheduleId']}").json()["firingCount"] == 0
    finally:
        daemon.stop()


def test_a_draft_with_too_many_trigger_nodes_gets_only_the_first_twenty(daemon, client):
    workflow = make_workflow(daemon, [])
    hooks = [{"id": f"webhook-{n:02}", "name": f"Hook {n}", "type": "webhook-trigger", "config": {}}
             for n in range(25)]
    set_triggers(daemon, workflow["id"], hooks)  # as Stan's tools can, before the execute check
    listed = triggers_of(client, workflow["id"])
    assert [t["nodeId"] for t in listed] == [f"webhook-{n:02}" for n in range(20)]

"""The scheduler on a real daemon with a hand-moved clock: fires, overlaps, missed slots, DST,
restarts and kills, heartbeats, built-in actions."""

from __future__ import annotations

import json
import signal
import sqlite3
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import Daemon
from tests.helpers.processes import daemon_process
from tests.helpers.receiver import Receiver
from tests.helpers.scheduling import (
    history,
    iso,
    schedule_tasks,
    scheduled_daemon,
    start_scheduler,
    utc,
    wait_until,
)
from tests.helpers.servers import free_port

T0 = utc(2026, 6, 1, 12, 0)


@pytest.fixture
def sched(tmp_path, llm_env):
    daemon, clock = scheduled_daemon(tmp_path / "data", T0)
    yield daemon, clock
    daemon.stop()


def create(client, **fields) -> dict:
    body = {"name": "Job", "interval": "every 15 minutes", "prompt": "Say hi", "timeZone": "UTC", **fields}
    r = client.post("/api/schedules", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_due_schedule_fires_once_as_a_task_with_its_logs(sched, fake):
    daemon, clock = sched
    client = daemon.client
    schedule = create(client)
    assert schedule["nextFireAt"] == iso(utc(2026, 6, 1, 12, 15))
    fake.enqueue_text("hello from the schedule")
    clock.set(utc(2026, 6, 1, 12, 15, 0, 300_000))
    task = wait_until(lambda: schedule_tasks(client, schedule["id"]), what="the firing")[0]
    assert task["title"] == "Job — firing #1" and task["sourceType"] == "scheduled"
    done = daemon.wait_for_status(task["id"], {"completed"})
    assert done["result"] == "hello from the schedule"
    after = client.get(f"/api/schedules/{schedule['id']}").json()
    assert after["firingCount"] == 1
    assert after["lastFiredAt"] == iso(utc(2026, 6, 1, 12, 15, 0, 300_000)).replace(".000Z", ".300Z")
    assert after["nextFireAt"] == iso(utc(2026, 6, 1, 12, 30))
    assert [(h["number"], h["outcome"], h["taskId"]) for h in after["firingHistory"]] == [(1, "started", task["id"])]
    # Moving within the same slot window fires nothing more.
    clock.set(utc(2026, 6, 1, 12, 20))
    clock.set(utc(2026, 6, 1, 12, 29, 59))
    clock.settle()
    assert len(schedule_tasks(client, schedule["id"])) == 1


def test_overlap_skip_moves_on_and_queue_waits_for_the_previous_run(sched, fake):
    daemon, clock = sched
    client = daemon.client
    skipper = create(client, name="Skipper", interval="every minute")
    queuer = create(client, name="Queuer", interval="every minute", overlapPolicy="queue")
    for _ in range(2):
        fake.enqueue_hang(chunk_delay=0.05, chunks=2000)
    clock.set(utc(2026, 6, 1, 12, 1))
    first_skip = wait_until(lambda: schedule_tasks(client, skipper["id"]))[0]
    first_queue = wait_until(lambda: schedule_tasks(client, queuer["id"]))[0]
    daemon.wait_for_status(first_skip["id"], {"running"})
    clock.set(utc(2026, 6, 1, 12, 2))
    wait_until(lambda: len(history(client, skipper["id"])) == 2, what="the skipped slot")
    outcomes = [h["outcome"] for h in history(client, skipper["id"])]
    assert outcomes == ["skipped", "started"]
    assert client.get(f"/api/schedules/{skipper['id']}").json()["nextFireAt"] == iso(utc(2026, 6, 1, 12, 3))
    queued = wait_until(lambda: [t for t in schedule_tasks(client, queuer["id"]) if t["status"] == "queued"])
    assert len(queued) == 1 and len(schedule_tasks(client, skipper["id"])) == 1
    fake.enqueue_text("second run done")
    assert client.post(f"/api/tasks/{first_queue['id']}/cancel").status_code == 200
    daemon.wait_for_status(queued[0]["id"], {"completed"})
    client.post(f"/api/tasks/{first_skip['id']}/cancel")


@pytest.mark.parametrize("policy, expected_tasks", [("skip", 0), ("run_once", 1)])
def test_slots_missed_while_down_follow_the_policy(tmp_path, llm_env, policy, expected_tasks):
    daemon, _clock = scheduled_daemon(tmp_path / "data", T0)
    schedule = create(daemon.client, interval="every 15 minutes", missedPolicy=policy)
    daemon.stop()
    later = utc(2026, 6, 1, 15, 7)  # three hours and twelve slots later
    daemon, _clock = scheduled_daemon(tmp_path / "data", later)
    try:
        client = daemon.client
        wait_until(lambda: history(client, schedule["id"]), what="the missed slot to be handled")
        after = client.get(f"/api/schedules/{schedule['id']}").json()
        assert after["nextFireAt"] == iso(utc(2026, 6, 1, 15, 15))
        assert len(schedule_tasks(client, schedule["id"])) == expected_tasks
        assert [h["outcome"] for h in after["firingHistory"]] == ["missed" if policy == "skip" else "started"]
        assert after["firingCount"] == expected_tasks
        assert (after["lastFiredAt"] is None) == (expected_tasks == 0)
    finally:
        daemon.stop()


def fire_through(client, clock, schedule_id: str, count: int) -> list[str]:
    """Move the clock to each next slot in turn and wait for it to fire; the slots fired."""
    fired = []
    for _ in range(count):
        slot = client.get(f"/api/schedules/{schedule_id}").json()["nextFireAt"]
        fired.append(slot)
        clock.set(datetime.fromisoformat(slot.replace("Z", "+00:00")))
        wait_until(lambda slot=slot: client.get(f"/api/schedules/{schedule_id}").json()["nextFireAt"] != slot,
                   what=f"the slot {slot} to fire")
        wait_until(lambda: all(t["status"] not in ("queued", "running") for t in schedule_tasks(client, schedule_id)),
                   what="the firing's run to end")  # else the next slot is skipped as an overlap
    return fired


def test_cron_follows_its_time_zone_through_both_dst_changes(sched):
    daemon, clock = sched
    client = daemon.client
    # Spring forward (2026-03-08): 02:30 does not exist that day; it fires once, just after the gap.
    clock.set(utc(2026, 3, 6, 12, 0))
    daily = create(client, interval="30 2 * * *", timeZone="America/New_York")
    assert fire_through(client, clock, daily["id"], 3) == [
        "2026-03-07T07:30:00.000Z", "2026-03-08T07:30:00.000Z", "2026-03-09T06:30:00.000Z"]
    assert len(schedule_tasks(client, daily["id"])) == 3
    # Fall back (2026-11-01): 01:00 happens twice; a daily job fires once that day.
    clock.set(utc(2026, 10, 31, 12, 0))
    early = create(client, interval="0 1 * * *", timeZone="America/New_York")
    assert fire_through(client, clock, early["id"], 2) == ["2026-11-01T05:00:00.000Z", "2026-11-02T06:00:00.000Z"]
    assert len(schedule_tasks(client, early["id"])) == 2


def test_pause_stops_firing_and_resume_does_not_catch_up(sched):
    daemon, clock = sched
    client = daemon.client
    schedule = create(client, interval="every 15 minutes")
    paused = client.patch(f"/api/schedules/{schedule['id']}", json={"status": "paused"}).json()
    assert paused["status"] == "paused" and paused["nextFireAt"] is None
    clock.set(utc(2026, 6, 1, 14, 0))
    clock.settle()
    again = client.patch(f"/api/schedules/{schedule['id']}", json={"status": "paused"})  # the catalog: 409
    assert again.status_code == 409 and again.json() == {"error": "Schedule is already paused: nothing to pause"}
    resumed = client.patch(f"/api/schedules/{schedule['id']}", json={"status": "active"}).json()
    assert resumed["nextFireAt"] == iso(utc(2026, 6, 1, 14, 15))
    assert schedule_tasks(client, schedule["id"]) == [] and history(client, schedule["id"]) == []
    assert client.patch(f"/api/schedules/{schedule['id']}", json={"status": "active"}).status_code == 409
    assert client.get(f"/api/schedules/{schedule['id']}").json()["nextFireAt"] == iso(utc(2026, 6, 1, 14, 15))


def test_one_shot_completes_and_max_firings_expires(sched, fake):
    daemon, clock = sched
    client = daemon.client
    once = create(client, name="Once", recurs=False)
    twice = create(client, name="Twice", maxFirings=2)
    clock.set(utc(2026, 6, 1, 12, 15))
    wait_until(lambda: client.get(f"/api/schedules/{once['id']}").json()["status"] == "completed")
    first = wait_until(lambda: schedule_tasks(client, twice["id"]))[0]
    daemon.wait_for_status(first["id"], {"completed"})  # else the next slot is skipped as an overlap
    clock.set(utc(2026, 6, 1, 12, 30))
    wait_until(lambda: client.get(f"/api/schedules/{twice['id']}").json()["status"] == "expired")
    assert client.get(f"/api/schedules/{twice['id']}").json()["nextFireAt"] is None
    assert len(schedule_tasks(client, twice["id"])) == 2
    assert client.patch(f"/api/schedules/{twice['id']}", json={"status": "active"}).status_code == 409


def test_run_now_fires_a_manual_firing_and_refuses_while_one_runs(sched, fake):
    daemon, _clock = sched
    client = daemon.client
    schedule = create(client)
    fake.enqueue_hang(chunk_delay=0.05, chunks=2000)
    r = client.post(f"/api/schedules/{schedule['id']}/execute")
    assert r.status_code == 202
    task = r.json()["task"]
    assert task["title"] == "Job — manual firing #1"
    assert client.post(f"/api/schedules/{schedule['id']}/execute").status_code == 409
    assert client.post("/api/schedules/nope/execute").status_code == 404
    client.post(f"/api/tasks/{task['id']}/cancel")


def test_a_builtin_action_runs_with_its_fixed_prompt_and_tools(sched, fake):
    daemon, clock = sched
    client = daemon.client
    r = client.post("/api/v1/stan/tasks", headers={"X-API-Key": daemon.api_key}, json={
        "name": "Audit", "action": "audit_workflows", "schedule": "*/15 * * * *", "modelId": "openai/fake"})
    assert r.status_code == 201
    fake.enqueue_tool_call("list_tasks", {"status": "failed"})
    fake.enqueue_text("All healthy.")
    clock.set(utc(2026, 6, 1, 12, 15))
    task = wait_until(lambda: schedule_tasks(client, r.json()["id"]))[0]
    assert daemon.wait_for_status(task["id"], {"completed"})["result"] == "All healthy."
    first = fake.requests[0]
    assert sorted(t["function"]["name"] for t in first["tools"]) == ["list_schedules", "list_tasks", "list_workflows"]
    assert "Audit stagent's recent work" in first["messages"][1]["content"]
    tool_reply = fake.requests[1]["messages"][-1]
    assert tool_reply["role"] == "tool" and tool_reply["content"] == "No tasks in that window."


def test_heartbeat_schedule_records_suppressed_and_action_verdicts(sched, fake):
    daemon, clock = sched
    client = daemon.client
    r = client.post("/api/schedules", json={
        "name": "Inbox watch", "interval": "every 30 minutes", "type": "heartbeat", "timeZone": "UTC",
        "heartbeatChecklist": [{"id": "mail", "instruction": "Any urgent mail?", "priority": "high"}],
        "activeHoursStart": 9, "activeHoursEnd": 17, "activeTimezone": "UTC"})
    assert r.status_code == 201, r.text
    beat = r.json()
    fake.enqueue_text(json.dumps({"action_needed": False, "items": [{"id": "mail", "status": "ok", "summary": "quiet"}]}))
    clock.set(utc(2026, 6, 1, 12, 30))
    wait_until(lambda: client.get(f"/api/schedules/{beat['id']}/heartbeat-history").json()["history"])
    hist = client.get(f"/api/schedules/{beat['id']}/heartbeat-history").json()
    assert hist["history"][0]["event"] == "heartbeat_suppressed" and hist["stats"]["suppressionCount"] == 1
    assert "[HIGH] (mail) Any urgent mail?" in fake.requests[0]["messages"][1]["content"]
    fake.enqueue_text("Not JSON at all")
    clock.set(utc(2026, 6, 1, 13, 0))
    wait_until(lambda: len(client.get(f"/api/schedules/{beat['id']}/heartbeat-history").json()["history"]) == 2)
    hist = client.get(f"/api/schedules/{beat['id']}/heartbeat-history").json()
    assert hist["history"][0]["event"] == "heartbeat_action"
    assert hist["stats"]["suppressionCount"] == 0 and hist["stats"]["lastActionAt"] is not None
    # Outside the 9–17 window the next slot is the window's first.
    clock.set(utc(2026, 6, 1, 16, 45))
    wait_until(lambda: client.get(f"/api/schedules/{beat['id']}").json()["nextFireAt"] == iso(utc(2026, 6, 2, 9, 0)))


@pytest.mark.serial
def test_a_firing_claimed_before_a_kill_never_fires_again(tmp_path, fake):
    """kill -9 while the firing's run is live: after restart the slot is not fired a second time."""
    data_dir, port = tmp_path / "data", free_port()
    daemon = Daemon(data_dir, scheduler=False)
    schedule = create(daemon.client, interval="every 15 minutes", missedPolicy="run_once")
    daemon.stop()
    with sqlite3.connect(data_dir / "stagent.db") as conn:  # its slot passed two minutes ago
        conn.execute("UPDATE schedules SET next_fire_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 minutes')")
    fake.enqueue_hang(chunk_delay=0.05, chunks=5000)
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake) as proc:
        task = wait_until(lambda: [t for t in httpx.get(f"{base}/api/tasks").json() if t["status"] == "running"])[0]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    daemon = Daemon(data_dir, scheduler=False)
    try:
        start_scheduler(daemon, datetime.now(UTC))
        client = daemon.client
        after = wait_until(lambda: client.get(f"/api/schedules/{schedule['id']}").json())
        assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "failed"
        assert len(schedule_tasks(client, schedule["id"])) == 1
        assert after["firingCount"] == 1 and len(after["firingHistory"]) == 1
    finally:
        daemon.stop()


def test_a_firing_result_is_delivered_to_the_schedule_channels(sched, fake):
    daemon, clock = sched
    client = daemon.client
    receiver = Receiver()
    try:
        channel = client.post("/api/channels", json={"name": "hook", "channelType": "webhook",
                                                     "config": {"url": f"{receiver.url}/hook"}}).json()
        schedule = create(client, name="Digest", deliveryChannels=[channel["id"]])
        assert schedule["deliveryChannels"] == [channel["id"]]
        fake.enqueue_text("Three new issues today.")
        clock.set(utc(2026, 6, 1, 12, 15))
        wait_until(lambda: receiver.requests, what="the delivery")
        body = receiver.requests[0]["json"]
        assert body["subject"] == "Digest — firing #1 completed" and body["body"] == "Three new issues today."
        assert body["metadata"]["scheduleId"] == schedule["id"] and body["source"] == "stagent"
    finally:
        receiver.server.stop()


def test_the_stan_heartbeat_ticks_on_its_interval(sched):
    daemon, clock = sched
    client = daemon.client
    client.headers["X-API-Key"] = daemon.api_key

    def runs():
        return client.get("/api/v1/stan/heartbeat/history").json()

    assert client.get("/api/v1/stan/heartbeat").json()["intervalMinutes"] == 30
    clock.set(utc(2026, 6, 1, 12, 29))
    clock.settle()
    assert runs() == []
    clock.set(utc(2026, 6, 1, 12, 30))
    first = wait_until(runs, timeout=60, what="the first tick")  # a heartbeat run probes models: slow under load
    assert [r["trigger"] for r in first] == ["scheduled"] and first[0]["startedAt"] == iso(utc(2026, 6, 1, 12, 30))
    assert client.put("/api/v1/stan/heartbeat", json={"intervalMinutes": 60}).status_code == 200
    clock.set(utc(2026, 6, 1, 13, 0))
    clock.set(utc(2026, 6, 1, 13, 29))
    clock.settle()
    assert len(runs()) == 1
    clock.set(utc(2026, 6, 1, 13, 30))
    wait_until(lambda: len(runs()) == 2, timeout=60, what="the tick an hour after the change")
    client.put("/api/v1/stan/heartbeat", json={"enabled": False})
    clock.set(utc(2026, 6, 1, 20, 0))
    clock.settle()
    assert len(runs()) == 2


def test_a_queued_firing_starts_after_a_restart_ended_the_run_ahead(tmp_path, llm_env):
    fake = llm_env
    daemon, clock = scheduled_daemon(tmp_path / "data", T0)
    schedule = create(daemon.client, interval="every minute", overlapPolicy="queue")
    fake.enqueue_hang(chunk_delay=0.05, chunks=2000)
    clock.set(utc(2026, 6, 1, 12, 1))
    first = wait_until(lambda: schedule_tasks(daemon.client, schedule["id"]))[0]
    daemon.wait_for_status(first["id"], {"running"})
    for minute in (2, 3, 4):  # one firing waits; later slots do not pile up more
        clock.set(utc(2026, 6, 1, 12, minute))
        clock.settle()
    tasks = schedule_tasks(daemon.client, schedule["id"])
    assert sorted(t["status"] for t in tasks) == ["queued", "running"]
    assert [h["outcome"] for h in history(daemon.client, schedule["id"])][:2] == ["skipped", "skipped"]
    daemon.stop()  # the running firing ends as interrupted; no end event reaches a scheduler
    fake.script.clear()
    daemon, clock = scheduled_daemon(tmp_path / "data", utc(2026, 6, 1, 12, 4, 30))
    try:
        queued = next(t for t in tasks if t["status"] == "queued")
        assert daemon.wait_for_status(queued["id"], {"completed"})["result"] == "ok"
    finally:
        daemon.stop()


def test_run_now_counts_towards_max_firings(sched):
    daemon, _clock = sched
    client = daemon.client
    schedule = create(client, maxFirings=1)
    task = client.post(f"/api/schedules/{schedule['id']}/execute").json()["task"]
    daemon.wait_for_status(task["id"], {"completed"})
    after = client.get(f"/api/schedules/{schedule['id']}").json()
    assert (after["status"], after["nextFireAt"], after["firingCount"]) == ("expired", None, 1)
    r = client.post(f"/api/schedules/{schedule['id']}/execute")
    assert r.status_code == 409 and "expired" in r.json()["error"]


def test_a_narrow_heartbeat_window_finds_its_next_slot_or_is_refused(sched):
    daemon, _clock = sched
    client = daemon.client
    body = {"name": "Night", "type": "heartbeat", "timeZone": "UTC", "activeTimezone": "UTC",
            "heartbeatChecklist": [{"id": "a", "instruction": "check", "priority": "low"}]}
    r = client.post("/api/schedules", json={**body, "interval": "every minute", "activeHoursStart": 3,
                                            "activeHoursEnd": 4})
    assert r.status_code == 201 and r.json()["nextFireAt"] == iso(utc(2026, 6, 2, 3, 0))
    r = client.post("/api/schedules", json={**body, "interval": "0 3 * * 1", "activeHoursStart": 9,
                                            "activeHoursEnd": 17})
    assert r.status_code == 400 and "never fires inside its active hours" in r.json()["error"]


def test_a_schedule_changed_after_its_slot_was_prepared_fires_as_changed(sched, fake):
    """The scheduler reads a slot's schedules just before it (PREPARE_LEAD); a change made after
    that read, even one that does not wake the scheduler, is what fires."""
    daemon, clock = sched
    client = daemon.client
    schedule = create(client, prompt="Old prompt")
    fake.enqueue_text("done")
    clock.set(utc(2026, 6, 1, 12, 14, 59, 600_000))  # inside the lead: the slot is prepared now
    clock.settle()
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:  # a change the scheduler is not told of
        conn.execute("UPDATE schedules SET prompt = 'New prompt', updated_at = ? WHERE id = ?",
                     (iso(utc(2026, 6, 1, 12, 14, 59, 700_000)), schedule["id"]))
    clock.set(utc(2026, 6, 1, 12, 15, 0, 100_000))
    task = wait_until(lambda: schedule_tasks(client, schedule["id"]), what="the firing")[0]
    assert client.get(f"/api/tasks/{task['id']}").json()["description"] == "New prompt"
    assert client.get(f"/api/schedules/{schedule['id']}").json()["firingCount"] == 1


def test_a_burst_fires_each_plain_schedule_once_beside_the_others(sched, fake):
    """Plain prompt schedules of a burst are written together; a slot already claimed keeps
    its first firing (no second task, no orphan), and the others due with them fire one by one."""
    daemon, clock = sched
    client = daemon.client
    plain = [create(client, name=f"Plain {i}") for i in range(3)]
    r = client.post("/api/v1/stan/tasks", headers={"X-API-Key": daemon.api_key}, json={
        "name": "Audit", "action": "audit_workflows", "schedule": "*/15 * * * *", "modelId": "openai/fake"})
    assert r.status_code == 201, r.text
    action = client.get(f"/api/schedules/{r.json()['id']}").json()
    claimed = plain[2]
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO schedule_firings (id, schedule_id, slot, number, outcome, fired_at) "
                     "VALUES ('earlier', ?, ?, 1, 'started', ?)",
                     (claimed["id"], claimed["nextFireAt"], claimed["nextFireAt"]))
    for _ in range(3):
        fake.enqueue_text("done")
    clock.set(utc(2026, 6, 1, 12, 15, 0, 200_000))
    for schedule in (*plain[:2], action):
        task = wait_until(lambda s=schedule: schedule_tasks(client, s["id"]), what=schedule["name"])[0]
        assert task["title"] == f"{schedule['name']} — firing #1"
        after = client.get(f"/api/schedules/{schedule['id']}").json()
        assert after["firingCount"] == 1 and after["nextFireAt"] == iso(utc(2026, 6, 1, 12, 30))
    clock.settle()
    assert schedule_tasks(client, claimed["id"]) == []
    after = client.get(f"/api/schedules/{claimed['id']}").json()
    assert after["firingCount"] == 0 and after["nextFireAt"] == iso(utc(2026, 6, 1, 12, 30))
    all_tasks = client.get("/api/tasks").json()
    assert len(all_tasks) == 3 and all(t["scheduleId"] != claimed["id"] for t in all_tasks)

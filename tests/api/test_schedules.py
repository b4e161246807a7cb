"""/api/schedules routes: shapes, validation and status codes (firing itself: tests/engine/test_scheduler.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

CHECKLIST = [{"id": "inbox", "instruction": "Anything urgent?", "priority": "high"}]


def test_create_list_get_patch_delete(client):
    a = client.post("/api/schedules", json={"name": "A", "interval": "daily at 18:30", "prompt": "p"})
    assert a.status_code == 201
    a = a.json()
    assert (a["cronExpression"], a["status"], a["type"], a["recurs"], a["firingCount"]) == (
        "30 18 * * *", "active", "scheduled", True, 0)
    assert a["nextFireAt"] and a["missedPolicy"] == "skip" and a["overlapPolicy"] == "skip"
    b = client.post("/api/schedules", json={"name": "B", "interval": "mondays at noon", "prompt": "p",
                                            "modelId": "openai/fake", "expiresInHours": 24}).json()
    assert b["cronExpression"] == "0 12 * * 1" and b["expiresAt"] > b["createdAt"]
    assert [s["name"] for s in client.get("/api/schedules").json()] == ["B", "A"]
    got = client.get(f"/api/schedules/{a['id']}").json()
    assert got["firingHistory"] == [] and got["name"] == "A"
    r = client.patch(f"/api/schedules/{a['id']}", json={"name": "A2", "interval": "every 2 hours"})
    assert r.status_code == 200 and (r.json()["name"], r.json()["cronExpression"]) == ("A2", "0 */2 * * *")
    assert client.delete(f"/api/schedules/{a['id']}").json() == {"deleted": True}
    assert client.get(f"/api/schedules/{a['id']}").status_code == 404
    assert client.delete(f"/api/schedules/{a['id']}").json() == {"error": "Schedule not found"}


def test_heartbeat_schedule_defaults_and_history(client):
    r = client.post("/api/schedules", json={"name": "Watch", "interval": "every 30 minutes", "type": "heartbeat",
                                            "heartbeatChecklist": CHECKLIST, "activeHoursStart": 22,
                                            "activeHoursEnd": 6, "activeTimezone": "Europe/Berlin",
                                            "heartbeatBudgetPerDayUsd": 0.5})
    assert r.status_code == 201, r.text
    beat = r.json()
    assert beat["prompt"] == "Heartbeat check: Watch" and beat["heartbeatChecklist"] == CHECKLIST
    assert beat["heartbeatBudgetPerDay"] == 500_000
    history = client.get(f"/api/schedules/{beat['id']}/heartbeat-history").json()
    assert history == {"history": [], "stats": {"suppressionCount": 0, "lastActionAt": None, "firingCount": 0,
                                                "heartbeatSpentToday": 0, "heartbeatBudgetPerDay": 500_000}}
    plain = client.post("/api/schedules", json={"name": "P", "interval": "hourly", "prompt": "p"}).json()
    r = client.get(f"/api/schedules/{plain['id']}/heartbeat-history")
    assert r.status_code == 400 and r.json() == {"error": "Not a heartbeat schedule"}
    assert client.get("/api/schedules/nope/heartbeat-history").status_code == 404


@pytest.mark.parametrize("body, words", [
    ({"interval": "hourly", "prompt": "p"}, "name"),
    ({"name": "x", "prompt": "p"}, "interval"),
    ({"name": "x", "interval": "hourly"}, "prompt is required"),
    ({"name": "x", "interval": "every other tuesday", "prompt": "p"}, "Could not parse"),
    ({"name": "x", "interval": "30s", "prompt": "p"}, "Sub-minute"),
    ({"name": "x", "interval": "hourly", "type": "heartbeat"}, "heartbeatChecklist"),
    ({"name": "x", "interval": "hourly", "type": "heartbeat", "heartbeatChecklist": CHECKLIST,
      "activeHoursStart": 24, "activeHoursEnd": 3}, "activeHoursStart"),
    ({"name": "x", "interval": "hourly", "type": "heartbeat", "heartbeatChecklist": CHECKLIST,
      "activeHoursStart": 8}, "together"),
    ({"name": "x", "interval": "hourly", "prompt": "p", "timeZone": "Mars/Olympus"}, "IANA"),
    ({"name": "x", "interval": "hourly", "prompt": "p", "projectId": "nope"}, "Project not found"),
    ({"name": "x", "interval": "hourly", "prompt": "p", "deliveryChannels": ["nope"]}, "Unknown delivery channel"),
    ({"name": "x", "interval": "hourly", "prompt": "p", "missedPolicy": "always"}, "missedPolicy"),
    # Found in review: numbers too large for a date or an SQLite integer were 500s.
    ({"name": "x", "interval": "hourly", "prompt": "p", "expiresInHours": 1e300}, "expiresInHours"),
    ({"name": "x", "interval": "hourly", "prompt": "p", "maxFirings": 2**70}, "maxFirings"),
    ({"name": "x", "interval": "hourly", "type": "heartbeat", "heartbeatChecklist": CHECKLIST,
      "heartbeatBudgetPerDay": 2**70}, "heartbeatBudgetPerDay"),
])
def test_create_validation_is_a_plain_400_that_changes_nothing(client, body, words):
    r = client.post("/api/schedules", json=body)
    assert r.status_code == 400 and isinstance(r.json()["error"], str) and words in r.json()["error"], r.json()
    assert client.get("/api/schedules").json() == []


def test_patch_rules(client):
    s = client.post("/api/schedules", json={"name": "S", "interval": "hourly", "prompt": "p"}).json()
    assert client.patch(f"/api/schedules/{s['id']}", json={"prompt": "  "}).status_code == 400
    assert client.patch(f"/api/schedules/{s['id']}", json={"status": "completed"}).status_code == 400
    assert client.patch("/api/schedules/nope", json={"name": "x"}).status_code == 404
    assert client.patch(f"/api/schedules/{s['id']}", json={"agentProfile": "researcher"}).json()["agentProfile"] == "researcher"
    assert client.patch(f"/api/schedules/{s['id']}", json={"agentProfile": ""}).json()["agentProfile"] is None
    assert client.get(f"/api/schedules/{s['id']}").json()["prompt"] == "p"
    # Found by the fuzzer: values that reached NOT NULL columns or foreign keys.
    r = client.patch(f"/api/schedules/{s['id']}", json={"projectId": ""})
    assert r.status_code == 400 and r.json() == {"error": "Project not found"}
    assert client.patch(f"/api/schedules/{s['id']}", json={"activeTimezone": None}).json()["activeTimezone"] == "UTC"


def test_parse_previews_three_fire_times(client):
    r = client.post("/api/schedules/parse", json={"expression": "every weekday at 9am"})
    assert r.status_code == 200
    body = r.json()
    assert (body["cronExpression"], body["confidence"]) == ("0 9 * * 1-5", 1.0)
    assert len(body["nextFireTimes"]) == 3 and body["nextFireTimes"] == sorted(body["nextFireTimes"])
    assert client.post("/api/schedules/parse", json={"expression": "at 7pm"}).json()["confidence"] == 0.9
    r = client.post("/api/schedules/parse", json={"expression": "whenever you like"})
    assert r.status_code == 400 and r.json()["error"].startswith("Could not parse")
    assert client.post("/api/schedules/parse", json={}).status_code == 400


def test_the_list_reads_in_words_with_its_zone_and_next_three_runs(client):
    made = client.post("/api/schedules", json={"name": "Standup", "prompt": "notes", "interval": "0 9 * * 1-5",
                                               "timeZone": "America/New_York"}).json()
    local = client.post("/api/schedules", json={"name": "Hourly", "prompt": "tick", "interval": "every hour"}).json()
    rows = {s["id"]: s for s in client.get("/api/schedules").json()}
    standup, hourly = rows[made["id"]], rows[local["id"]]
    assert standup["description"] == "Every weekday at 09:00"
    assert standup["timeZone"] == "America/New_York" and standup["effectiveTimeZone"] == "America/New_York"
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in standup["nextFireTimes"]]
    assert len(times) == 3 and times == sorted(times)
    assert times[0] == datetime.fromisoformat(standup["nextFireAt"].replace("Z", "+00:00"))  # the next is first
    assert all(t.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %a") in
               {f"09:00 {d}" for d in ("Mon", "Tue", "Wed", "Thu", "Fri")} for t in times)
    assert hourly["timeZone"] is None and hourly["effectiveTimeZone"]  # the machine's zone, named
    assert client.get(f"/api/schedules/{made['id']}").json()["nextFireTimes"] == standup["nextFireTimes"]
    paused = client.patch(f"/api/schedules/{made['id']}", json={"status": "paused"}).json()
    assert paused["nextFireTimes"] == [] and paused["description"] == "Every weekday at 09:00"


def test_parse_previews_in_a_time_zone(client):
    r = client.post("/api/schedules/parse", json={"expression": "every day at 9am", "timeZone": "Asia/Tokyo"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timeZone"] == "Asia/Tokyo"
    assert {datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
            for t in body["nextFireTimes"]} == {"09:00"}
    bad = client.post("/api/schedules/parse", json={"expression": "every day at 9am", "timeZone": "Mars/Olympus"})
    assert bad.status_code == 400 and "Unknown time zone" in bad.json()["error"]
    assert client.post("/api/schedules/parse", json={"expression": "every day at 9am"}).json()["timeZone"]


def test_parse_in_validate_mode_answers_200_for_words_it_cannot_read(client):
    r = client.post("/api/schedules/parse", json={"expression": "whenever you like", "validate": True})
    assert r.status_code == 200 and r.json()["valid"] is False and r.json()["error"].startswith("Could not parse")
    bad_zone = client.post("/api/schedules/parse", json={"expression": "hourly", "timeZone": "Nowhere/X",
                                                         "validate": True})
    assert bad_zone.status_code == 200 and "Unknown time zone" in bad_zone.json()["error"]
    good = client.post("/api/schedules/parse", json={"expression": "hourly", "validate": True}).json()
    assert good["valid"] is True and good["cronExpression"] == "0 * * * *"
    assert client.post("/api/schedules/parse", json={"expression": "whenever"}).status_code == 400  # as before

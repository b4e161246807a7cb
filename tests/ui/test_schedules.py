"""Schedules in the browser: plain words with a five-time preview, create, pause, run now;
the heartbeat's checks run on demand."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.ui.conftest import expect, open_page, screenshot


def test_create_a_schedule_from_plain_words(page, client, llm_env):
    open_page(page, "/schedules")
    page.get_by_label("Name").fill("Morning digest")
    page.get_by_label("When").fill("every weekday at 9am")
    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("Every weekday at 09:00")
    expect(preview).to_contain_text("0 9 * * 1-5")
    expect(preview.locator("[data-preview] li")).to_have_count(5)
    page.get_by_label("Prompt").fill("Summarise yesterday")
    screenshot(page, "schedules-create")
    page.get_by_role("button", name="Create schedule").click()

    row = page.locator("tr[data-schedule='Morning digest']")
    expect(row).to_contain_text("0 9 * * 1-5")
    expect(row.locator(".badge").first).to_have_text("active")
    [schedule] = client.get("/api/schedules").json()
    assert schedule["cronExpression"] == "0 9 * * 1-5" and schedule["prompt"] == "Summarise yesterday"

    row.get_by_role("button", name="Pause").click()
    expect(row.get_by_role("button", name="Resume")).to_be_visible()
    assert client.get(f"/api/schedules/{schedule['id']}").json()["status"] == "paused"

    llm_env.enqueue_text("Digest: all quiet.")
    row.get_by_role("button", name="Run now").click()
    page.get_by_role("link", name="open its task").click()
    expect(page).to_have_url(re.compile(r"#/tasks/"))
    expect(page.locator("[data-output]")).to_have_text("Digest: all quiet.")


def test_words_the_parser_cannot_read_are_explained_before_saving(page):
    open_page(page, "/schedules")
    page.get_by_label("When").fill("whenever the moon is blue")
    expect(page.locator("#schedule-preview .error")).to_contain_text("is not a valid cron expression")
    # The preview asks in validate mode: the page logs no 400 (the page fixture fails on any error).


def test_run_the_heartbeat_checks_now(page):
    open_page(page, "/schedules")
    expect(page.locator("main")).to_contain_text("It has not run yet.")
    page.get_by_role("button", name="Run checks now").click()
    expect(page.locator("main")).to_contain_text("Last run")
    expect(page.locator("main")).to_contain_text("workflows:")


def test_the_list_reads_in_words_and_a_schedule_is_edited(page, client):
    created = client.post("/api/schedules", json={"name": "Digest", "interval": "every weekday at 9am",
                                                  "prompt": "Summarise"}).json()
    client.post("/api/schedules", json={"name": "Often", "interval": "every 15 minutes", "prompt": "Check"})
    client.post(f"/api/schedules/{created['id']}/execute")
    parses = []
    page.on("request", lambda r: "/api/schedules/parse" in r.url and parses.append(r.url))
    open_page(page, "/schedules")
    row = page.locator("tr[data-schedule='Digest']")
    expect(row.locator("[data-words]")).to_have_text("Every weekday at 09:00")
    expect(row).to_contain_text("the computer’s local time")
    expect(row.locator("[data-next-runs] li")).to_have_count(3)
    expect(row).to_contain_text("1 run")
    expect(row).not_to_contain_text("1 runs")
    assert parses == []  # the list's words, zone and next runs come with the schedules

    row.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit schedule Digest")
    form.get_by_label("Name").fill("Evening digest")
    form.get_by_label("When").fill("every day at 6pm")
    expect(form.locator(".schedule-preview")).to_contain_text("18:00")
    form.get_by_label("Time zone").fill("Asia/Tokyo")
    expect(form.locator(".schedule-preview")).to_contain_text("it runs on Asia/Tokyo time")
    form.get_by_label("Prompt").fill("Summarise today")
    form.get_by_role("button", name="Save schedule").click()
    row = page.locator("tr[data-schedule='Evening digest']")
    expect(row.locator("[data-words]")).to_contain_text("18:00")
    expect(row).to_contain_text("time zone Asia/Tokyo")
    expect(row.locator("[data-next-runs] li")).to_have_count(3)
    saved = client.get(f"/api/schedules/{created['id']}").json()
    assert (saved["name"], saved["prompt"], saved["cronExpression"]) == ("Evening digest", "Summarise today", "0 18 * * *")
    assert saved["timeZone"] == "Asia/Tokyo" and len(saved["nextFireTimes"]) == 3
    first = datetime.fromisoformat(saved["nextFireTimes"][0].replace("Z", "+00:00"))
    assert first.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "18:00"
    screenshot(page, "schedules-list")


def test_the_preview_waits_for_a_whole_phrase(page):
    open_page(page, "/schedules")
    requests = []
    page.on("request", lambda r: "/api/schedules/parse" in r.url and requests.append(r.post_data))
    when = page.get_by_label("When")
    when.press_sequentially("every monday at 9am", delay=40)  # typed, not pasted
    expect(page.locator("#schedule-preview")).to_contain_text("Every Monday at 09:00")
    assert len(requests) == 1, requests  # one request, after the typing paused
    when.fill("every monday at")
    expect(page.locator("#schedule-preview")).to_contain_text("Keep typing")
    page.wait_for_timeout(900)
    assert len(requests) == 1

"""Schedules in the browser: plain words with a five-time preview, create, pause, run now;
the heartbeat's checks run on demand."""

from __future__ import annotations

import re

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
    page.problems[:] = [p for p in page.problems if "400" not in p]


def test_run_the_heartbeat_checks_now(page):
    open_page(page, "/schedules")
    expect(page.locator("main")).to_contain_text("It has not run yet.")
    page.get_by_role("button", name="Run checks now").click()
    expect(page.locator("main")).to_contain_text("Last run")
    expect(page.locator("main")).to_contain_text("workflows:")

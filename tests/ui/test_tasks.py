"""Tasks in the browser: create and run one, watch its log stream in, see output and cost;
projects: create one and edit its working directory."""

from __future__ import annotations

import re

from tests.ui.conftest import expect, open_page, screenshot

HAIKU = "Rows wait in the dark / one file holds the whole small world / commit, and it stays"


def test_create_and_run_a_task_and_watch_its_log_stream_in(page, daemon, llm_env):
    llm_env.enqueue_text(HAIKU, chunk_delay=0.02)
    open_page(page, "/tasks")
    page.get_by_label("Title").fill("Write a haiku about SQLite")
    page.get_by_label("Description").fill("Three lines.")
    page.get_by_role("button", name="Create and run").click()

    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]{36}$"))
    log = page.get_by_role("log", name="Task log")
    expect(log.locator(".line-completed")).to_be_visible()
    expect(log.locator(".text")).to_have_text(HAIKU)  # the streamed chunks, joined, each once
    expect(log.locator(".line-started")).to_have_count(1)
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-output]")).to_have_text(HAIKU)
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    task_id = page.url.rsplit("/", 1)[1]
    assert daemon.client.get(f"/api/tasks/{task_id}").json()["result"] == HAIKU
    screenshot(page, "task")

    # Opened afterwards, the page shows the same log from history, each line once.
    page.reload()
    expect(log.locator(".line-completed")).to_have_count(1)
    expect(log.locator(".text")).to_have_text(HAIKU)


def test_a_failed_run_shows_why_and_retry_runs_it_again(page, daemon, llm_env):
    llm_env.enqueue_error(401, "invalid api key")
    open_page(page, "/tasks")
    page.get_by_label("Title").fill("Doomed at first")
    page.get_by_role("button", name="Create and run").click()
    expect(page.locator("h1 .badge")).to_have_text("failed")
    expect(page.get_by_role("log", name="Task log").locator(".line-error")).to_contain_text("invalid api key")

    llm_env.enqueue_text("Second time lucky")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-output]")).to_have_text("Second time lucky")


def test_filters_and_search_narrow_the_task_list(page, client):
    for title in ("Alpha report", "Beta report", "Gamma"):
        client.post("/api/tasks", json={"title": title})
    task = client.get("/api/tasks").json()[0]
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    open_page(page, "/tasks")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Search tasks").fill("report")
    expect(rows).to_have_count(2)
    page.get_by_label("Search tasks").fill("")
    page.get_by_label("Status").select_option("queued")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(task["title"])


def test_create_a_project_and_edit_its_working_directory(page, client, tmp_path):
    open_page(page, "/projects")
    page.get_by_label("Name").fill("Website")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("link", name="Website").click()
    expect(page.get_by_role("heading", name="Website")).to_be_visible()
    expect(page.locator("main")).to_contain_text("This project has no tasks yet.")
    page.get_by_label("Working directory").fill(str(tmp_path))
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".toast", has_text="Project saved.")).to_be_visible()
    project = client.get("/api/projects").json()[0]
    assert project["workingDirectory"] == str(tmp_path)

    client.delete(f"/api/projects/{project['id']}")  # gone meanwhile (another tab, the CLI)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("form .error")).to_have_text("Not found")  # the API's answer, in words
    page.problems[:] = [p for p in page.problems if "404" not in p]

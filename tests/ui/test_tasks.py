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


def test_the_board_the_waiting_state_and_the_hidden_firings(page, daemon, client, llm_env):
    planned = client.post("/api/tasks", json={"title": "Plan the launch"}).json()
    queued = client.post("/api/tasks", json={"title": "Queue the mail"}).json()
    client.patch(f"/api/tasks/{queued['id']}", json={"status": "queued"})
    # A run that waits for an approval, and a schedule's firing (a task the schedule made).
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up"}, call_id="c1")
    asking = client.post("/api/tasks", json={"title": "Ask before acting"}).json()
    client.patch(f"/api/tasks/{asking['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{asking['id']}/execute")
    schedule = client.post("/api/schedules", json={"name": "Nightly", "interval": "daily at 2am", "prompt": "Tidy"}).json()

    open_page(page, "/tasks")
    expect(page.locator(f"tr[data-task='{asking['id']}']")).to_contain_text("waiting for you")
    page.get_by_role("button", name="Board").click()
    board = page.get_by_role("list", name="Tasks by status")
    expect(board.locator("[data-column]")).to_have_count(6)
    expect(board.locator("[data-column=planned]")).to_contain_text("Plan the launch")
    expect(board.locator("[data-column=queued]")).to_contain_text("Queue the mail")
    expect(board.locator("[data-column=running]")).to_contain_text("Ask before acting")
    expect(board.locator("[data-column=running]")).to_contain_text("waiting for you")
    screenshot(page, "tasks-board")

    llm_env.enqueue_text("Tidied.")
    fired = client.post(f"/api/schedules/{schedule['id']}/execute").json()
    expect(page.locator("main")).to_contain_text("(1 hidden)")
    expect(page.locator(f"[data-task='{fired['taskId']}']")).to_have_count(0)
    page.get_by_label("Show workflow steps and scheduled runs").check()
    expect(page.locator(f"[data-task='{fired['taskId']}']")).to_have_count(1)
    assert planned  # listed above


def test_edit_a_task_and_create_one_on_its_project_page(page, client):
    project = client.post("/api/projects", json={"name": "Garden"}).json()
    open_page(page, f"/projects/{project['id']}")
    form = page.get_by_role("form", name="New task")
    form.get_by_label("Title").fill("Plant tomatoes")
    form.get_by_role("button", name="Create only").click()
    expect(page.locator("main")).to_contain_text("Plant tomatoes")
    [task] = client.get("/api/tasks").json()
    assert task["projectId"] == project["id"]

    page.get_by_role("link", name="Plant tomatoes").click()
    expect(page.locator("main")).to_contain_text("Project Garden")
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit task")
    form.get_by_label("Title").fill("Plant tomatoes and basil")
    form.get_by_label("Description").fill("By the south wall.")
    form.get_by_label("Priority").select_option("High")
    form.get_by_label("Model").fill("openai/gpt-4o-mini")
    form.get_by_role("button", name="Save task").click()
    expect(page.locator("h1")).to_contain_text("Plant tomatoes and basil")
    expect(page.get_by_role("form", name="Edit task")).to_have_count(0)
    saved = client.get(f"/api/tasks/{task['id']}").json()
    assert (saved["title"], saved["description"], saved["priority"], saved["modelId"]) == (
        "Plant tomatoes and basil", "By the south wall.", 1, "openai/gpt-4o-mini")


def test_the_task_form_picks_a_profile_and_the_run_uses_it(page, daemon, llm_env):
    llm_env.enqueue_text("Three sources, compared.")
    open_page(page, "/tasks")
    picker = page.get_by_label("Profile")
    expect(picker.locator("option")).to_have_count(1 + len(daemon.client.get("/api/profiles").json()))
    expect(picker).to_have_value("")  # none picked: the run picks one from the task's words
    picker.select_option(label="Researcher")
    page.get_by_label("Title").fill("Compare three sources on WAL mode")
    page.get_by_role("button", name="Create and run").click()

    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]{36}$"))
    expect(page.locator("h1 .badge")).to_have_text("completed")
    task = daemon.client.get(f"/api/tasks/{page.url.rsplit('/', 1)[1]}").json()
    assert task["agentProfile"] == "researcher"
    assert "## Profile: Researcher" in llm_env.requests[-1]["messages"][0]["content"]


def test_a_budget_refused_start_fails_the_task_with_the_reason_and_retry_runs_it(page, daemon, client, fake,
                                                                                monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    monkeypatch.setenv("OPENAI_API_BASE", fake.base_url)
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")  # a priced model: spend adds up
    fake.enqueue_text("Spent.", usage=(200_000, 0))  # $0.03 of gpt-4o-mini input
    spend = client.post("/api/tasks", json={"title": "Spend some"}).json()
    client.patch(f"/api/tasks/{spend['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{spend['id']}/execute")
    daemon.wait_for_status(spend["id"], {"completed"})
    assert client.post("/api/settings/budgets", json={"overall": {"dailySpendCapUsd": 0.01}}).status_code == 200

    open_page(page, "/tasks")
    page.get_by_label("Title").fill("Refused at the door")
    page.get_by_role("button", name="Create and run").click()
    error = page.locator("form[aria-label='New task'] .error")
    expect(error).to_contain_text("did not start: Overall daily budget reached")
    expect(error.get_by_role("link", name="Settings")).to_be_visible()
    expect(error).not_to_contain_text("/api/")  # words and a link, not an API call
    row = page.locator("tbody tr", has_text="Refused at the door")
    expect(row).to_contain_text("failed")  # not left queued as if it would run

    row.get_by_role("link", name="Refused at the door").click()
    expect(page.locator("h1 .badge")).to_have_text("failed")
    line = page.get_by_role("log", name="Task log").locator(".line-error")
    expect(line).to_contain_text("Overall daily budget reached")
    expect(line).not_to_contain_text("budget_exceeded")
    expect(line).not_to_contain_text("/api/")
    task_url = page.url
    open_page(page, "/")
    expect(page.locator("[data-spend-health=blocked]")).to_contain_text("Overall daily cap reached")

    # Raise the cap in Settings, come back, Retry: it runs.
    open_page(page, "/settings")
    budgets = page.get_by_role("form", name="Budgets")
    budgets.get_by_label("Daily cap (USD)").fill("0.037")  # $0.03 spent: over 80 %, room for one more call
    budgets.get_by_role("button", name="Save budgets").click()
    expect(page.locator(".toast", has_text="Budgets saved.")).to_be_visible()
    open_page(page, "/")
    expect(page.locator("[data-spend-health=warning]")).to_have_text("Over 80 % of the overall daily cap.")
    page.goto(task_url)
    fake.enqueue_text("Ran after all.")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-output]")).to_have_text("Ran after all.")
    page.problems[:] = [p for p in page.problems if "429" not in p]

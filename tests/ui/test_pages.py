"""Every page on an empty database: it renders, says what to do next, logs no error; and the
screenshots in docs/screenshots/ are taken here, so they stay current."""

from __future__ import annotations

from tests.ui.conftest import expect, open_page, screenshot

PAGES = [
    ("/", "home", "No tasks yet. Create one on the Tasks page."),
    ("/tasks", "tasks", "No tasks yet. Describe one above"),
    ("/projects", "projects", "No projects yet."),
    ("/chat", "chat", "Start a conversation"),
    ("/workflows", "workflows", "No workflows yet. Start from a blueprint"),
    ("/schedules", "schedules", "No schedules yet."),
    ("/environment", "environment", "No scan yet."),
    ("/inbox", "inbox", "Nothing is waiting for you."),
    ("/settings", "settings", "No key set."),
]


def test_every_page_on_an_empty_database_says_what_to_do_next(page):
    for path, name, text in PAGES:
        open_page(page, path)
        expect(page.locator("main")).to_contain_text(text)
        expect(page.locator("main")).not_to_contain_text("Loading…")
        expect(page.locator("#nav a[aria-current=page]")).to_have_count(1)
        screenshot(page, name)
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0


def test_the_nav_and_the_slash_key_are_keyboard_friendly(page):
    open_page(page, "/tasks")
    expect(page.get_by_label("Search tasks")).to_be_visible()
    page.locator("body").press("/")
    expect(page.get_by_label("Search tasks")).to_be_focused()
    open_page(page, "/chat")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_visible()  # the page is drawn
    page.get_by_role("link", name="Home").focus()
    page.keyboard.press("/")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_focused()
    page.get_by_role("link", name="Schedules").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Schedules", exact=True)).to_be_visible()


def test_an_unknown_address_and_a_missing_task_are_explained(page):
    open_page(page, "/nowhere")
    expect(page.locator("main")).to_contain_text("No page lives at this address.")
    page.goto("/#/tasks/no-such-task")
    expect(page.locator("main .error")).to_have_text("There is no such task; it may have been deleted.")
    page.problems[:] = [p for p in page.problems if "404" not in p]  # the browser logs the 404 it was told


def test_the_ui_keeps_working_when_every_api_call_needs_a_key(page, daemon, client):
    headers = {"X-API-Key": daemon.api_key}
    assert client.put("/api/settings/security", json={"requireApiKey": True}, headers=headers).status_code == 200
    assert client.get("/api/tasks").status_code == 401  # a keyless program is refused...
    open_page(page, "/projects")  # ...the browser's session cookie is not
    page.get_by_label("Name").fill("Keyed")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("link", name="Keyed")).to_be_visible()


def test_first_run_home_asks_to_connect_a_model(page, client):
    open_page(page, "/")
    step = page.locator("[data-card='Connect a model']")
    expect(step).to_contain_text("Tasks, chat and schedules need a language model.")
    step.get_by_role("link", name="Open Settings to connect a model").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    client.post("/api/settings/openai", json={"apiKey": "sk-test-123456789"})
    open_page(page, "/")
    expect(page.locator("[data-card='Running now']")).to_be_visible()
    expect(page.locator("[data-card='Connect a model']")).to_have_count(0)


def test_search_everything_with_ctrl_k_and_slash(page, client):
    project = client.post("/api/projects", json={"name": "Garden"}).json()
    client.post("/api/tasks", json={"title": "Water the garden", "projectId": project["id"]})
    open_page(page, "/")
    page.locator("body").press("/")  # Home has no search box of its own: `/` searches everything
    dialog = page.get_by_role("dialog", name="Search everything")
    expect(dialog).to_be_visible()
    page.keyboard.type("garden")
    expect(dialog.get_by_role("link")).to_have_count(2)
    expect(dialog.get_by_role("link", name="task Water the garden")).to_be_visible()
    page.keyboard.press("Enter")  # the first result: the project
    expect(page.get_by_role("heading", name="Garden")).to_be_visible()
    expect(dialog).to_be_hidden()
    page.get_by_label("Name").focus()
    page.keyboard.press("Control+k")  # Ctrl-K works even while typing in a field
    expect(dialog).to_be_visible()
    page.keyboard.type("sched")
    expect(dialog.get_by_role("link")).to_have_count(1)  # the results for "sched", not the list before them
    dialog.get_by_role("link", name="page Schedules").click()
    expect(page.get_by_role("heading", name="Schedules", exact=True)).to_be_visible()


PHONE_PAGES = ["/", "/tasks", "/projects", "/chat", "/workflows", "/blueprints", "/blueprints/research-report",
               "/schedules", "/inbox", "/settings"]


def test_on_a_phone_no_page_is_wider_than_the_screen(page, client, llm_env, tmp_path):
    folder = tmp_path / "code" / "a-very-long-directory-name-that-a-phone-must-wrap"
    folder.mkdir(parents=True)
    project = client.post("/api/projects", json={"name": "A project with a rather long name for a phone",
                                                 "workingDirectory": str(folder)}).json()
    task = client.post("/api/tasks", json={"title": "Summarise the quarterly numbers for the board meeting",
                                           "projectId": project["id"]}).json()
    client.post("/api/schedules", json={"name": "Morning digest", "interval": "every weekday at 9am",
                                        "prompt": "Summarise yesterday's failed tasks", "projectId": project["id"]})
    workflow = client.post("/api/workflows", json={"name": "Review and publish", "projectId": project["id"],
                                                   "definition": {"pattern": "sequence", "steps": [
                                                       {"id": "a", "name": "Draft", "prompt": "Draft it."},
                                                       {"id": "b", "name": "Publish", "prompt": "Publish it."}]}}).json()
    client.post("/api/keys", json={"name": "backup script", "scopes": ["stagent:read"]})
    page.set_viewport_size({"width": 390, "height": 844})
    for path in [*PHONE_PAGES, f"/tasks/{task['id']}", f"/projects/{project['id']}", f"/workflows/{workflow['id']}"]:
        open_page(page, path)
        expect(page.locator("main")).not_to_contain_text("Loading…")
        assert page.evaluate("document.querySelector('.top').getBoundingClientRect().height") <= 60, path
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} is {width[0]} px wide on a {width[1]} px screen"
    open_page(page, "/tasks")
    page.get_by_role("button", name="Board").click()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="List").click()
    screenshot(page, "phone-tasks")

    # The nav is a menu: open it, pick a page, and it closes.
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    screenshot(page, "phone-menu")
    nav.get_by_role("link", name="Schedules").click()
    expect(page.get_by_role("heading", name="Schedules", exact=True)).to_be_visible()
    expect(nav).to_be_hidden()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_first_run_from_an_empty_data_dir_to_a_completed_task_using_only_the_page(page, daemon, client, fake):
    """A new user with a local OpenAI-compatible server (no key): Home → Settings → Test → a task."""
    open_page(page, "/")
    page.locator("[data-card='Connect a model']").get_by_role("link", name="Open Settings to connect a model").click()
    openai = page.locator("form[data-provider=openai]")
    openai.get_by_label("Base URL").fill(fake.base_url)
    openai.get_by_role("button", name="Save").click()
    expect(openai.get_by_label("Model")).to_have_value("openai/fake")  # what the server serves
    openai.get_by_role("button", name="Test").click()
    expect(openai.locator("[data-test-result=ok]")).to_have_text("Connected: openai/fake answered.")
    openai.get_by_role("button", name="Use openai/fake by default").click()
    expect(page.locator(".toast", has_text="openai/fake is now the default model")).to_be_visible()
    expect(page.get_by_role("form", name="Defaults").get_by_label("Default model for tasks")).to_have_value("openai/fake")

    page.get_by_role("link", name="Home").click()
    expect(page.locator("[data-card='Running now']")).to_be_visible()
    expect(page.locator("[data-card='Connect a model']")).to_have_count(0)
    page.get_by_role("link", name="Go to Tasks").click()  # Home's next step once a model answers
    fake.enqueue_text("Hello from your own model.")
    page.get_by_label("Title").fill("Say hello")
    page.get_by_role("button", name="Create and run").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-output]")).to_have_text("Hello from your own model.")
    assert fake.requests[-1]["model"] == "fake"

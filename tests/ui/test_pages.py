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
    page.locator("body").press("/")
    expect(page.get_by_label("Search tasks")).to_be_focused()
    open_page(page, "/chat")
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

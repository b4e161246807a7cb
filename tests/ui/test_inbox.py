"""The Inbox: a tool call waiting for permission appears live and is answered from the page;
notifications are listed, marked read and deleted."""

from __future__ import annotations

from tests.ui.conftest import expect, open_page, screenshot


def start_task(client, title):
    task = client.post("/api/tasks", json={"title": title}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    return task


def test_approve_a_pending_tool_call_from_the_inbox(page, daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up with Ana"}, call_id="c1")
    llm_env.enqueue_text("Created the follow-up.")
    open_page(page, "/inbox")
    expect(page.locator("main")).to_contain_text("Nothing is waiting for you.")

    task = start_task(client, "Plan the week")  # its tool call asks while the page is open: it arrives live
    request = page.locator("[data-approval]")
    expect(request).to_contain_text("create_task: Follow up with Ana")
    expect(request).to_contain_text("Plan the week")
    expect(page.locator("#nav .count")).to_have_text("1")
    screenshot(page, "inbox-approval")

    request.get_by_role("button", name="Allow once").click()
    expect(page.locator("main")).to_contain_text("Nothing is waiting for you.")
    expect(page.locator("#nav .count")).to_be_hidden()
    done = daemon.wait_for_status(task["id"], {"completed"})
    assert done["result"] == "Created the follow-up."
    assert any(t["title"] == "Follow up with Ana" for t in client.get("/api/tasks").json())
    # The run's completion is a notification, listed live below.
    expect(page.locator("[data-notification]").first).to_contain_text("Plan the week")


def test_deny_from_the_task_page_and_manage_notifications(page, daemon, client, llm_env):
    llm_env.enqueue_tool_call("create_task", {"title": "Spam everyone"}, call_id="c1")
    llm_env.enqueue_text("Understood, I will not.")
    task = start_task(client, "Risky")
    open_page(page, f"/tasks/{task['id']}")
    page.get_by_role("button", name="Deny").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.get_by_role("log", name="Task log")).to_contain_text("create_task: denied")
    assert not any(t["title"] == "Spam everyone" for t in client.get("/api/tasks").json())

    open_page(page, "/inbox")
    item = page.locator("[data-notification]").filter(has_text="Risky")
    expect(item).to_have_class("unread")
    item.get_by_role("button", name="Mark read").click()
    expect(item).to_have_class("read")
    item.get_by_role("button", name="Delete").click()
    expect(page.locator("[data-notification]").filter(has_text="Risky")).to_have_count(0)

"""The Inbox: a tool call waiting for permission appears live and is answered from the page;
notifications are listed, marked read and deleted."""

from __future__ import annotations

import re

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


def test_one_approval_timeout_a_countdown_a_timeout_notice_and_outcomes(page, daemon, client, llm_env):
    open_page(page, "/settings")
    approvals = page.get_by_role("form", name="Approvals")
    expect(approvals.get_by_label("Wait for an answer (minutes)")).to_have_value("10")  # the default: 600 s
    approvals.get_by_label("Wait for an answer (minutes)").fill("30")
    approvals.get_by_role("button", name="Save approvals").click()
    expect(page.locator(".toast", has_text="Approvals saved.")).to_be_visible()
    assert client.get("/api/permissions/settings").json()["requestTimeoutSeconds"] == 1800

    # A request waiting shows how long it still waits, on the Inbox and on its task's page.
    llm_env.enqueue_tool_call("create_task", {"title": "Call the bank"}, call_id="c1")
    llm_env.enqueue_text("Done.")
    task = start_task(client, "Errands")
    open_page(page, "/inbox")
    clock = page.locator("[data-approval] [data-countdown]")
    expect(clock).to_have_text(re.compile(r"^denied automatically in 2[89]:[0-5]\d$"))
    open_page(page, f"/tasks/{task['id']}")
    expect(page.locator(".approval [data-countdown]")).to_contain_text("denied automatically in 29:")
    page.get_by_role("button", name="Allow once").click()
    daemon.wait_for_status(task["id"], {"completed"})

    # A short wait runs out: the request is denied, a notice says so, and the answered items say how
    # each ended.
    client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 2})
    llm_env.enqueue_tool_call("create_task", {"title": "Book a table"}, call_id="c2")
    llm_env.enqueue_text("Nobody answered; skipped.")
    late = start_task(client, "Dinner")
    open_page(page, "/inbox")
    notice = page.locator("[data-notification]", has_text="No answer in time: Permission required: create_task")
    expect(notice).to_be_visible()
    expect(notice.locator(".badge")).to_have_text("message")
    expect(page.locator("main")).to_contain_text("Nothing is waiting for you.")
    daemon.wait_for_status(late["id"], {"completed"})
    page.reload()
    outcomes = page.locator("[data-outcome]")
    expect(outcomes.filter(has_text="No answer in time: denied")).to_have_count(1)
    expect(outcomes.filter(has_text="Allowed")).to_have_count(1)
    expect(page.locator("[data-notification] .badge", has_text="approval")).to_have_count(2)
    expect(page.locator("main")).not_to_contain_text("permission_required")

"""Chat in the browser: a streamed reply with its tool call shown as it happens, history and
resume, the pickers, and slash commands answered without the model."""

from __future__ import annotations

import re

from tests.ui.conftest import expect, open_page, screenshot

REPLY = "You have no projects yet. Shall I create one for the launch?"


def send(page, text):
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(text)
    box.press("Enter")


def test_chat_with_a_streamed_reply_and_resume_it(page, client, llm_env):
    llm_env.enqueue_tool_call("list_projects", {}, call_id="p1")  # read-only: runs without asking
    llm_env.enqueue_text(REPLY, chunk_delay=0.02)
    open_page(page, "/chat")
    page.get_by_label("Personality").select_option("concise")
    send(page, "What projects do I have?")

    reply = page.locator(".msg-assistant").last
    expect(reply.locator(".tool")).to_contain_text("calls list_projects")
    expect(reply).to_contain_text(REPLY)
    expect(reply).not_to_have_attribute("data-streaming", "true")
    expect(page).to_have_url(re.compile(r"#/chat/[0-9a-f-]{36}$"))
    [conversation] = client.get("/api/chat/conversations").json()
    assert conversation["personality"] == "concise"
    sent = llm_env.requests[0]["messages"]
    assert sent[-1] == {"role": "user", "content": "What projects do I have?"}
    expect(page.get_by_role("navigation", name="Conversations")).to_contain_text("What projects do I have?")
    screenshot(page, "chat-reply")

    # History and resume: a new page shows the stored conversation, and it carries on there.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".msg")).to_have_count(0)
    page.get_by_role("navigation", name="Conversations").get_by_role("link").first.click()
    expect(page.locator(".msg-user")).to_have_text("What projects do I have?")
    expect(page.locator(".msg-assistant")).to_contain_text(REPLY)
    expect(page.get_by_label("Personality")).to_have_value("concise")
    llm_env.enqueue_text("Done.")
    send(page, "Thanks")
    expect(page.locator(".msg-assistant").last).to_have_text("Done.")
    # `done` (which ends the streaming state) comes after the reply is stored; the text may come first.
    expect(page.locator(".msg-assistant").last).not_to_have_attribute("data-streaming", "true")
    assert len(client.get(f"/api/chat/conversations/{conversation['id']}/messages").json()) == 4


def test_slash_commands_are_answered_without_the_model(page, client, llm_env):
    open_page(page, "/chat")
    send(page, "/help")
    expect(page.locator(".msg-system").last).to_contain_text("/personality [p]")
    send(page, "/model gpt-5.4-mini")
    expect(page.locator(".msg-system").last).to_have_text("Model switched to gpt-5.4-mini.")
    expect(page.get_by_label("Model")).to_have_value("gpt-5.4-mini")
    send(page, "/bogus")
    expect(page.locator(".msg-system").last).to_contain_text("Unknown command /bogus.")
    assert llm_env.requests == []


def test_a_reply_that_cannot_start_is_explained(page):
    open_page(page, "/chat")  # no provider is configured in this test
    send(page, "Hello?")
    expect(page.locator("form .error")).to_contain_text("No LLM provider is configured")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("Hello?")  # nothing lost
    page.problems[:] = [p for p in page.problems if "400" not in p]

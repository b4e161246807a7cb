"""Chat in the browser: a streamed reply with its tool call shown as it happens, history and
resume, the pickers, and slash commands answered without the model."""

from __future__ import annotations

import re
import threading

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
    expect(reply.locator(".tool summary")).to_contain_text("Used list_projects")
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
    expect(page.locator(".msg-assistant .md").last).to_have_text("Done.")
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


def test_a_reply_that_cannot_start_is_explained(page, client):
    open_page(page, "/chat")  # no provider is configured in this test
    send(page, "Hello?")
    expect(page.locator("form .error")).to_contain_text("No LLM provider is configured")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("Hello?")  # nothing lost
    expect(page.locator("form .error").get_by_role("link", name="Settings")).to_be_visible()
    expect(page.locator("form .error")).not_to_contain_text("/api/")  # words and a link, not an API call
    assert client.get("/api/chat/conversations").json() == []  # no empty "Untitled" conversation left
    page.problems[:] = [p for p in page.problems if "400" not in p]


MARKDOWN = ("Here is **bold** text and a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n\n"
            "<script>window.hacked = 1</script> <img src=x onerror=\"window.hacked = 2\"> "
            "[bad](javascript:window.hacked=3) and [good](https://example.com/docs).")


def test_a_reply_is_markdown_sanitised_with_its_model_and_cost(page, client, llm_env):
    llm_env.enqueue_text(MARKDOWN)
    open_page(page, "/chat")
    send(page, "Format something")
    reply = page.locator(".msg-assistant").last
    expect(reply).not_to_have_attribute("data-streaming", "true")
    body = reply.locator(".md")
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.locator("li")).to_have_count(2)
    expect(body.locator("pre code")).to_have_text("print('hi')")
    # Markup in the reply is text, never elements; only http(s) links are links.
    expect(body).to_contain_text('<script>window.hacked = 1</script> <img src=x onerror="window.hacked = 2">')
    expect(body.locator("script, img")).to_have_count(0)
    expect(body.locator("a")).to_have_count(1)
    expect(body.locator("a")).to_have_attribute("href", "https://example.com/docs")
    expect(body).to_contain_text("[bad](javascript:window.hacked=3)")
    assert page.evaluate("window.hacked") is None
    # The footer: the model, the tokens and the cost of this reply (from `done`, and stored).
    expect(reply.locator("[data-meta]")).to_contain_text("openai/fake · 11 in + 7 out tokens · $")
    page.reload()
    expect(page.locator(".msg-assistant [data-meta]")).to_contain_text("openai/fake · 11 in + 7 out tokens")
    expect(page.locator(".msg-assistant .md strong")).to_have_text("bold")


def test_stop_a_reply(page, client, llm_env):
    llm_env.enqueue_hang("still going", chunk_delay=0.1)
    open_page(page, "/chat")
    send(page, "Talk for a long time")
    reply = page.locator(".msg-assistant").last
    expect(reply).to_contain_text("still going")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    page.get_by_role("button", name="Stop").click()
    expect(reply).not_to_have_attribute("data-streaming", "true")
    expect(reply.locator(".note")).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    text = reply.locator(".md").inner_text()
    page.wait_for_timeout(500)
    assert reply.locator(".md").inner_text() == text  # nothing more is drawn
    # The daemon stopped the turn too: the reply is stored as interrupted, and nothing runs on.
    [conversation] = client.get("/api/chat/conversations").json()
    stored = client.get(f"/api/chat/conversations/{conversation['id']}/messages?includeSteps=true").json()
    assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "error")]
    assert client.get(f"/api/chat/conversations/{conversation['id']}").json()["replying"] is False


def test_a_reply_in_flight_is_shown_after_leaving_and_after_a_reload(page, client, llm_env):
    gate = threading.Event()
    llm_env.enqueue_text("First answer, written while you were away.", gate=gate)
    open_page(page, "/chat")
    send(page, "Take your time")
    expect(page).to_have_url(re.compile(r"#/chat/[0-9a-f-]{36}$"))
    chat_url = page.url
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    page.go_back()
    assert page.url == chat_url
    reply = page.locator(".msg-assistant").last
    expect(reply).to_have_attribute("data-streaming", "true")
    gate.set()
    expect(reply.locator(".md")).to_have_text("First answer, written while you were away.")
    expect(reply).not_to_have_attribute("data-streaming", "true")
    expect(page.locator(".msg-user")).to_have_count(1)

    # After a reload the page reads the reply in progress again from the daemon, from its start.
    gate2 = threading.Event()
    llm_env.enqueue_tool_call("list_projects", {}, call_id="p2")
    llm_env.enqueue_text("Second answer, read again after a reload.", gate=gate2, chunk_delay=0.02)
    send(page, "And again")
    expect(page.locator(".msg-assistant").last.locator(".tool summary")).to_contain_text("Used list_projects")
    page.reload()
    pending = page.locator(".msg-assistant").last
    expect(pending).to_have_attribute("data-streaming", "true")
    expect(pending.locator(".tool summary")).to_contain_text("Used list_projects")  # replayed
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    gate2.set()
    expect(pending.locator(".md")).to_have_text("Second answer, read again after a reload.")
    expect(pending).not_to_have_attribute("data-streaming", "true")
    expect(page.locator(".msg-user")).to_have_count(2)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()

    # A long reply: away, back, still growing in view; then Stop ends it in the daemon as well.
    llm_env.enqueue_hang("on and on", chunk_delay=0.05)
    send(page, "Keep talking")
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    page.reload()  # this tab's reader is gone too: only the daemon's stream can bring it back
    page.go_back()
    expect(page).to_have_url(chat_url)
    growing = page.locator(".msg-assistant").last
    expect(growing).to_contain_text("on and on")
    expect(growing).to_have_attribute("data-streaming", "true")
    page.get_by_role("button", name="Stop").click()
    expect(growing.locator(".note")).to_have_text("Stopped.")
    conversation_id = chat_url.rsplit("/", 1)[1]
    assert client.get(f"/api/chat/conversations/{conversation_id}").json()["replying"] is False
    stored = client.get(f"/api/chat/conversations/{conversation_id}/messages").json()
    assert stored[-1]["role"] == "assistant" and stored[-1]["status"] == "error"


def test_slash_commands_complete_as_you_type(page, llm_env):
    open_page(page, "/chat")
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill("/")
    commands = page.get_by_role("listbox", name="Commands")
    expect(commands.get_by_role("option")).to_have_count(9)
    box.press_sequentially("pe")
    expect(commands.get_by_role("option")).to_have_count(1)
    expect(commands).to_contain_text("/personality [p]")
    box.press("Tab")
    expect(box).to_have_value("/personality ")
    expect(commands).to_be_hidden()
    box.press_sequentially("friendly")
    box.press("Enter")
    expect(page.locator(".msg-system").last).to_have_text("Personality set to friendly.")
    assert llm_env.requests == []

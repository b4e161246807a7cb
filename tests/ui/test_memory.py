"""The Memory page (a profile's memories: adjust confidence, archive, add; its learned context
and a roll back) and the Inbox answers for learned-context proposals and handoffs."""

from __future__ import annotations

import asyncio
import json

from tests.ui.conftest import expect, open_page


def test_memory_page_adjust_archive_add(page, client):
    memory = client.post("/api/memory", json={"profileId": "general", "category": "fact",
                                              "content": "The build uses uv"}).json()["id"]
    open_page(page, "/memory")
    row = page.locator(f'[data-memory="{memory}"]')
    expect(row).to_contain_text("The build uses uv")
    row.get_by_label("Confidence (0–1000)").fill("950")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Confidence saved.")).to_be_visible()
    assert client.get("/api/memory", params={"profileId": "general"}).json()[0]["confidence"] == 950

    page.get_by_role("form", name="New memory").get_by_label("Memory").fill("Releases ship on Tuesdays")
    page.get_by_role("button", name="Add memory").click()
    expect(page.locator("[data-memory]").filter(has_text="Releases ship on Tuesdays")).to_be_visible()

    page.locator(f'[data-memory="{memory}"]').get_by_role("button", name="Archive").click()
    expect(page.locator(f'[data-memory="{memory}"]')).to_be_hidden()
    statuses = {m["content"]: m["status"] for m in client.get("/api/memory", params={"profileId": "general"}).json()}
    assert statuses == {"The build uses uv": "archived", "Releases ship on Tuesdays": "active"}


def test_inbox_answers_context_proposal_and_handoff(page, daemon, client):
    learned = daemon.app.state.learned_context
    asyncio.run_coroutine_threadsafe(learned.propose("general", "- Prefer small commits"), daemon.loop).result(10)
    handoff = client.post("/api/handoffs", json={"fromProfileId": "general", "toProfileId": "researcher",
                                                 "subject": "Check the sources", "body": "Please verify.",
                                                 "requiresApproval": True}).json()
    open_page(page, "/inbox")
    proposal = page.locator("[data-approval]")
    expect(proposal).to_contain_text("Prefer small commits")
    proposal.get_by_label("Proposed context").fill("- Prefer small, focused commits")
    proposal.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Nothing is waiting for you.")
    context = client.get("/api/profiles/general/context").json()
    assert context["content"] == "- Prefer small, focused commits"

    item = page.locator("[data-notification]").filter(has_text="Check the sources")
    item.get_by_role("button", name="Reject").click()
    expect(item.get_by_role("button", name="Approve handoff")).to_be_hidden()
    assert client.get(f"/api/handoffs/{handoff['id']}").json()["status"] == "rejected"
    assert json.loads(client.get("/api/notifications", params={"type": "agent_message"}).json()[0]["response"])

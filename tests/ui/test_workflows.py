"""Workflows in the browser: a blueprint from the gallery becomes a workflow whose run is watched
live through the tab's one EventSource; a page opened mid-run shows what the running step wrote
and follows it; checkpoints are answered from the workflow page and from the Inbox; the create
form; cancel; webhook trigger URLs."""

from __future__ import annotations

import re
import time

from tests.ui.conftest import expect, open_page, screenshot

CHECKPOINTED = {"pattern": "checkpoint", "steps": [
    {"id": "draft", "name": "Draft the post", "prompt": "Draft a post about SQLite."},
    {"id": "publish", "name": "Publish", "prompt": "Publish the draft.", "requiresApproval": True},
]}


# Records the path of every EventSource the page constructs (a reconnect would construct another).
RECORD_EVENT_SOURCES = """
(() => {
  const Native = window.EventSource;
  window.streamsOpened = [];
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      window.streamsOpened.push(new URL(url, location.href).pathname);
    }
  };
})();
"""


def record_event_sources(page) -> None:
    """Call before the first navigation; `streams_opened(page)` then lists them."""
    page.add_init_script(RECORD_EVENT_SOURCES)


def streams_opened(page) -> list[str]:
    return page.evaluate("window.streamsOpened")


def create_workflow(client, name: str, definition: dict) -> dict:
    response = client.post("/api/workflows", json={"name": name, "definition": definition})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
    return value


def pending(client) -> list[dict]:
    return client.get("/api/notifications/pending-approvals").json()


def step(page, step_id: str):
    return page.locator(f"[data-step='{step_id}']")


def test_instantiate_a_blueprint_from_the_gallery_and_watch_its_run_live(page, client, llm_env):
    record_event_sources(page)
    open_page(page, "/workflows")
    page.get_by_role("link", name="Browse blueprints").first.click()
    cards = page.locator("[data-blueprint]")
    expect(cards).to_have_count(7)
    card = cards.filter(has_text="Research Report")
    expect(card).to_contain_text("planner-executor")
    expect(card).to_contain_text("built-in")
    expect(card).to_contain_text("not used yet")
    screenshot(page, "blueprints")

    card.get_by_role("link", name="Research Report").click()
    expect(page.get_by_role("heading", name="Research Report")).to_be_visible()
    page.get_by_label("Number of key questions").fill("20")
    page.get_by_role("button", name="Create workflow").click()  # the daemon's checks, in words
    expect(page.locator("form .error")).to_have_text(
        'Missing required variable: “Topic”; “Number of key questions” must be at most 10')  # labels, not ids
    page.problems[:] = [p for p in page.problems if "400" not in p]  # the browser logs the 400 it was told
    assert client.get("/api/workflows").json() == []

    page.get_by_label("Topic").fill("Local-first software")
    page.get_by_label("Number of key questions").fill("3")
    page.get_by_label("Audience").select_option("executive")
    page.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(re.compile(r"#/workflows/[0-9a-f-]{36}$"))
    expect(page.locator("h1")).to_contain_text("Research Report: Local-first software")
    expect(page.locator("h1 .badge")).to_have_text("draft")
    expect(step(page, "step-1")).to_contain_text("Planner · Research plan")
    expect(step(page, "step-3")).to_contain_text("Executor · Write the report")
    expect(page.locator("main")).to_contain_text("It has not run yet.")

    # The planner first asks to run a tool: its step stays running, showing what it wrote so far.
    # (the planner runs as the blueprint's `researcher` profile: web_fetch is one of its tools, and asks)
    llm_env.enqueue_tool_call("web_fetch", {"url": "http://127.0.0.1:9/sources"}, call_id="c1",
                              text="Drafting the plan.")
    llm_env.enqueue_text("Plan: three questions.", chunk_delay=0.01)
    llm_env.enqueue_text("Findings: it works offline.", chunk_delay=0.01)
    llm_env.enqueue_text("Report: local-first wins.", chunk_delay=0.01)
    page.get_by_role("button", name="Run", exact=True).click()
    planner = step(page, "step-1")
    expect(planner.locator("[data-state]")).to_have_text("running")
    expect(planner.locator(".live-output")).to_contain_text("Drafting the plan.")
    expect(planner.locator(".live-output")).to_contain_text("asks to run web_fetch")
    expect(step(page, "step-2").locator("[data-state]")).to_have_text("pending")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    request = wait_for(lambda: pending(client), "the planner's tool request")[0]
    assert client.post(f"/api/tasks/{request['taskId']}/respond",
                       json={"notificationId": request["notificationId"], "behavior": "allow"}).status_code == 200

    for step_id in ("step-1", "step-2", "step-3"):
        expect(step(page, step_id).locator("[data-state]")).to_have_text("completed")
    expect(step(page, "step-1").locator("[data-result]")).to_have_text("Plan: three questions.")
    expect(step(page, "step-3").locator("[data-result]")).to_have_text("Report: local-first wins.")
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-run='1']")).to_contain_text("completed")
    expect(page.locator("[data-run='1']")).to_contain_text("3 of 3 steps completed")
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    assert streams_opened(page) == ["/api/events/stream"]  # the run was watched on the tab's one stream
    expect(page.locator(".toast")).to_have_count(0)  # the "created" toast has gone: a clean screenshot
    screenshot(page, "workflow-run")

    page.get_by_role("link", name="Open its task").last.click()  # the step's task, on its own page
    expect(page.locator("h1")).to_contain_text("[Workflow] Write the report")
    page.go_back()
    page.get_by_role("link", name="research-report").click()  # the blueprint it came from
    expect(page.locator("main")).to_contain_text("Research Report: Local-first software")  # its lineage


def test_a_page_opened_mid_run_shows_what_the_step_wrote_then_follows_it(page, client, llm_env):
    workflow = create_workflow(client, "Long haul", {"pattern": "sequence", "steps": [
        {"id": "slow", "name": "Slow step", "prompt": "Take your time."}]})
    llm_env.enqueue_tool_call("create_task", {"title": "Read the sources"}, call_id="c1", text="Drafting the plan.")
    llm_env.enqueue_hang("still thinking")
    assert client.post(f"/api/workflows/{workflow['id']}/execute").status_code == 202
    request = wait_for(lambda: pending(client), "the step's tool request")[0]

    record_event_sources(page)
    open_page(page, f"/workflows/{workflow['id']}")
    output = step(page, "slow").locator(".live-output")
    expect(output).to_contain_text("Drafting the plan.")  # written before the page opened
    expect(output).to_contain_text("asks to run create_task")
    assert client.post(f"/api/tasks/{request['taskId']}/respond",
                       json={"notificationId": request["notificationId"], "behavior": "allow"}).status_code == 200
    expect(output).to_contain_text("still thinking")  # written while it is open
    shown = output.inner_text()
    assert shown.count("Drafting the plan.") == 1 and shown.count("asks to run create_task") == 1
    assert streams_opened(page) == ["/api/events/stream"]
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .badge")).to_have_text("failed")


def test_a_checkpoint_is_approved_with_an_edited_prompt_from_the_workflow_page(page, client, llm_env):
    workflow = create_workflow(client, "Blog post", CHECKPOINTED)
    llm_env.enqueue_text("Draft: SQLite is one file.")
    llm_env.enqueue_text("Published on the blog.")
    open_page(page, f"/workflows/{workflow['id']}")
    expect(step(page, "publish")).to_contain_text("checkpoint")
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("[data-checkpoint]")
    expect(card).to_contain_text("Draft: SQLite is one file.")  # the output it would pass on
    expect(card).to_contain_text("Publish the draft.")
    expect(step(page, "publish").locator("[data-state]")).to_have_text("waiting for approval")
    expect(page.locator("#nav .count")).to_have_text("1")
    page.get_by_role("button", name="Edit prompt and approve").click()
    page.get_by_label("Prompt to run").fill("Publish the draft on the company blog.")
    page.get_by_role("button", name="Approve with this prompt").click()

    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("[data-checkpoint]")).to_have_count(0)
    expect(step(page, "publish").locator("[data-result]")).to_have_text("Published on the blog.")
    prompt = llm_env.requests[-1]["messages"][-1]["content"]
    assert "Publish the draft on the company blog." in prompt and "Draft: SQLite is one file." in prompt
    expect(page.locator("#nav .count")).to_be_hidden()


def test_a_rejected_checkpoint_fails_the_run_and_says_why(page, client, llm_env):
    workflow = create_workflow(client, "Blog post", CHECKPOINTED)
    llm_env.enqueue_text("Draft: too spicy.")
    open_page(page, f"/workflows/{workflow['id']}")
    page.get_by_role("button", name="Run", exact=True).click()
    page.locator("[data-checkpoint]").get_by_role("button", name="Reject").click()
    expect(page.locator("h1 .badge")).to_have_text("failed")
    expect(step(page, "publish")).to_contain_text("Approval denied by user")
    expect(step(page, "draft").locator("[data-state]")).to_have_text("completed")
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    expect(page.get_by_role("button", name="Retry step")).to_be_visible()


def test_the_inbox_answers_a_workflow_checkpoint(page, client, llm_env):
    workflow = create_workflow(client, "Blog post", CHECKPOINTED)
    llm_env.enqueue_text("Draft: short and sweet.")
    llm_env.enqueue_text("Published.")
    open_page(page, "/inbox")
    assert client.post(f"/api/workflows/{workflow['id']}/execute").status_code == 202

    request = page.locator("[data-approval]")  # arrives live
    expect(request).to_contain_text("Workflow checkpoint: Publish")
    expect(request).to_contain_text("Draft: short and sweet.")
    to_workflow = request.get_by_role("link", name="Blog post")  # the workflow, by name
    expect(to_workflow).to_have_attribute("href", f"#/workflows/{workflow['id']}")
    expect(request.get_by_role("button", name="Always allow")).to_have_count(0)  # it means nothing here
    request.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Nothing is waiting for you.")
    done = wait_for(lambda: (s := client.get(f"/api/workflows/{workflow['id']}/status").json())["status"] == "completed"
                    and s, "the workflow to complete")
    assert [s["state"]["status"] for s in done["steps"]] == ["completed", "completed"]
    assert done["steps"][1]["state"]["result"] == "Published."


def test_create_a_workflow_with_the_form(page, client, llm_env):
    open_page(page, "/workflows")
    form = page.get_by_role("form", name="New workflow")
    form.get_by_label("Name", exact=True).first.fill("Compare databases")
    form.get_by_label("Pattern").select_option("parallel")
    form.get_by_role("button", name="Add step").click()
    prompts = form.get_by_label("Prompt")
    expect(prompts).to_have_count(3)
    expect(form.locator("legend")).to_have_text(["Branch 1", "Branch 2", "Synthesis"])
    prompts.nth(0).fill("Summarise SQLite.")
    prompts.nth(1).fill("Summarise Postgres.")
    form.get_by_role("button", name="Create workflow").click()
    expect(form.locator(".error")).to_have_text("Step 'step-3' has no prompt")  # the daemon's words
    page.problems[:] = [p for p in page.problems if "400" not in p]

    prompts.nth(2).fill("Compare the two summaries.")
    form.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(re.compile(r"#/workflows/[0-9a-f-]{36}$"))
    expect(page.locator("main")).to_contain_text("Branches (2)")
    expect(page.locator("main")).to_contain_text("Synthesis")
    expect(step(page, "step-3")).to_contain_text("after step-1, step-2")
    definition = client.get("/api/workflows").json()[0]["definition"]
    assert '"dependsOn": ["step-1", "step-2"]' in definition

    open_page(page, "/workflows")
    row = page.locator("[data-workflow='Compare databases']")
    expect(row).to_contain_text("parallel")
    expect(row).to_contain_text("never run")


def test_cancel_a_running_workflow(page, client, llm_env):
    workflow = create_workflow(client, "Long haul", {"pattern": "sequence", "steps": [
        {"id": "slow", "name": "Slow step", "prompt": "Take your time."},
        {"id": "after", "name": "Never reached", "prompt": "Wrap up."}]})
    llm_env.enqueue_hang("still thinking")
    open_page(page, f"/workflows/{workflow['id']}")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(step(page, "slow").locator(".live-output")).to_contain_text("still thinking")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .badge")).to_have_text("failed")
    expect(step(page, "slow")).to_contain_text("Cancelled")
    expect(page.locator("[data-run='1']")).to_contain_text("cancelled")
    expect(step(page, "after").locator("[data-state]")).to_have_text("pending")


def test_webhook_trigger_urls_are_shown(page, daemon, client):
    definition = {"pattern": "sequence", "steps": [{"id": "s", "name": "Deploy notes", "prompt": "Summarise."}],
                  "triggers": [{"id": "hook-1", "name": "On push", "type": "webhook-trigger", "config": {}}]}
    workflow = create_workflow(client, "Hooked", definition)
    open_page(page, f"/workflows/{workflow['id']}")
    trigger = page.locator("[data-trigger='hook-1']")
    expect(trigger).to_contain_text("On push")
    url = trigger.locator("code").inner_text()
    assert url.startswith(f"{daemon.url}/api/workflows/hooks/")
    listed = client.get(f"/api/workflows/{workflow['id']}/triggers").json()["triggers"]
    assert listed[0]["url"] == url

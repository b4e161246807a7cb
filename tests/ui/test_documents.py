"""Documents in the browser: a file dropped on the Documents page uploads (with progress) and
becomes ready, its text shows, it is attached to a new task whose run gets its text, and to a
workflow's runs; an image shows inline; delete asks first."""

from __future__ import annotations

import base64
import re

from tests.helpers.waiting import wait_for
from tests.ui.conftest import expect, open_page, screenshot

BRIEF = "The launch date is the twelfth of March."
# a 1x1 PNG
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def drop_file(page, name: str, text: str) -> None:
    """A real drop event on the drop zone, carrying a file (what dragging from the desktop sends)."""
    page.locator(".dropzone").evaluate(
        """(zone, [name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, { type: 'text/plain' }));
            zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
        }""", [name, text])


def system_prompt(fake) -> str:
    return fake.requests[-1]["messages"][0]["content"]



def test_upload_ready_attach_to_a_task_and_the_run_uses_it(page, daemon, client, llm_env):
    open_page(page, "/documents")
    expect(page.locator("main")).to_contain_text("No documents yet")
    drop_file(page, "brief.txt", BRIEF)
    expect(page.locator('[data-upload="brief.txt"]')).to_contain_text("uploaded")
    row = page.locator("[data-document]").filter(has_text="brief.txt")
    expect(row.locator(".badge")).to_have_text("ready")  # extraction finished; the list followed it
    (doc,) = client.get("/api/documents").json()
    assert doc["originalName"] == "brief.txt" and doc["extractedText"] == BRIEF
    screenshot(page, "documents")

    row.get_by_role("link", name="brief.txt").click()
    expect(page.locator(".doctext")).to_have_text(BRIEF)

    llm_env.enqueue_text("Noted: 12 March.")
    open_page(page, "/tasks")
    page.get_by_label("Title").fill("When do we launch?")
    page.locator("summary", has_text="Attach documents").click()
    page.get_by_label("brief.txt").check()
    page.get_by_role("button", name="Create and run").click()
    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]{36}$"))
    expect(page.locator("h1 .badge")).to_have_text("completed")
    task_id = page.url.rsplit("/", 1)[1]
    assert f"--- brief.txt (documentId {doc['id']}) ---\n{BRIEF}" in system_prompt(llm_env)
    assert client.get(f"/api/documents/{doc['id']}").json()["taskId"] == task_id

    page.get_by_role("button", name="Save as document").click()  # the answer kept as a document
    expect(page.get_by_role("link", name="When do we launch?.md (version 1)")).to_be_visible()
    saved = [d for d in client.get("/api/documents").json() if d["direction"] == "output"]
    assert [(d["originalName"], d["taskId"]) for d in saved] == [("When do we launch?.md", task_id)]
    client.delete(f"/api/documents/{saved[0]['id']}", params={"cascadeDelete": "true"})

    open_page(page, "/documents")  # the list links the document to its task
    row = page.locator(f'[data-document="{doc["id"]}"]')
    expect(row.get_by_role("link", name="When do we launch?")).to_have_attribute("href", f"#/tasks/{task_id}")

    # Linked to the task: the question says so; confirmed, it goes (links and all).
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Delete brief.txt").click()
    expect(row).to_be_hidden()
    assert asked == ["Delete “brief.txt” and its stored file? It is linked to the task “When do we launch?”."]
    assert client.get("/api/documents").json() == []
    assert client.get(f"/api/tasks/{task_id}").json()["status"] == "completed"  # the task stays


def test_attach_documents_to_a_workflow_run(page, daemon, client, llm_env):
    open_page(page, "/documents")
    drop_file(page, "plan.txt", "Step one: gather the numbers.")
    expect(page.locator("[data-document] .badge")).to_have_text("ready")
    doc_id = client.get("/api/documents").json()[0]["id"]
    workflow = client.post("/api/workflows", json={"name": "Report", "definition": {
        "pattern": "sequence", "steps": [{"id": "a", "name": "Draft", "prompt": "draft it"}]}}).json()
    open_page(page, f"/workflows/{workflow['id']}")
    page.locator("summary", has_text="Attach documents").click()
    page.get_by_label("plan.txt").check()
    page.get_by_role("button", name="Attach to its runs").click()
    expect(page.locator(f'[data-binding="{doc_id}"]')).to_contain_text("every step")
    llm_env.enqueue_text("Drafted.")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    assert "Step one: gather the numbers." in llm_env.requests[-1]["messages"][-1]["content"]


def test_an_image_shows_inline_and_delete_asks_first(page, daemon, client):
    open_page(page, "/documents")
    page.locator("#doc-files").set_input_files(files=[{"name": "dot.png", "mimeType": "image/png", "buffer": PIXEL}])
    row = page.locator("[data-document]").filter(has_text="dot.png")
    expect(row.locator(".badge")).to_have_text("ready")
    row.get_by_role("link", name="dot.png").click()
    image = page.locator("img.docview")
    expect(image).to_have_attribute("src", re.compile(r"/api/documents/[0-9a-f-]{36}/file\?inline=1$"))
    wait_for(lambda: image.evaluate("img => img.complete && img.naturalWidth") == 1)

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("h1")).to_contain_text("dot.png")  # dismissed: still there
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"#/documents$"))
    expect(page.locator("main")).to_contain_text("No documents yet")
    assert client.get("/api/documents").json() == []

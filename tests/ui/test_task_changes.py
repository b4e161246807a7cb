"""A task's file changes in the browser: the diff appears (as text, lines coloured by kind) and
Revert puts the file back."""

from __future__ import annotations

from tests.ui.conftest import expect, open_page


def test_the_task_page_shows_the_diff_and_reverts_it(page, daemon, client, llm_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "page.html").write_text("<h1>Old title</h1>\n")
    project = client.post("/api/projects", json={"name": "site", "workingDirectory": str(work)}).json()
    client.post("/api/permissions", json={"pattern": "edit_file"})
    llm_env.enqueue_tool_call("read_file", {"path": "page.html"}, call_id="r1")
    llm_env.enqueue_tool_call("edit_file", {"path": "page.html", "old": "Old title",
                                            "new": "New <script>alert(1)</script> title"}, call_id="e1")
    llm_env.enqueue_text("Renamed the title.")
    task = client.post("/api/tasks", json={"title": "Rename the title", "projectId": project["id"]}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"completed"})

    open_page(page, f"/tasks/{task['id']}")
    changes = page.get_by_role("region", name="File changes")
    expect(changes.locator("summary code")).to_have_text("page.html")
    expect(changes.locator("pre.diff .diff-del")).to_have_text("-<h1>Old title</h1>\n")
    expect(changes.locator("pre.diff .diff-add")).to_have_text("+<h1>New <script>alert(1)</script> title</h1>\n")
    expect(page.get_by_role("log", name="Task log").locator(".line-file_change")).to_contain_text("changed page.html")

    page.once("dialog", lambda dialog: dialog.accept())
    changes.get_by_role("button", name="Revert 1 file").click()
    expect(changes.locator("summary .badge")).to_have_text("reverted")
    expect(changes.get_by_role("button", name="Revert 1 file")).to_have_count(0)
    assert (work / "page.html").read_text() == "<h1>Old title</h1>\n"

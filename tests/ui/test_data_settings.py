"""Settings → Data (snapshots, restore behind a confirming dialog, auto-backup, sample data and
clear) and Projects → Import (discover folders, import them with progress)."""

from __future__ import annotations

from tests.ui.conftest import expect, open_page


def names(client) -> set[str]:
    return {p["name"] for p in client.get("/api/projects").json()}


def data_section(page):
    return page.locator("section").filter(has=page.get_by_role("heading", name="Data", exact=True))


def test_snapshot_restore_and_auto_backup(page, client):
    client.post("/api/projects", json={"name": "kept"})
    open_page(page, "/settings")
    data = data_section(page)
    data.get_by_role("form", name="New snapshot").get_by_label("Label").fill("before changes")
    data.get_by_role("button", name="Create snapshot").click()
    row = data.locator("[data-snapshot]").filter(has_text="before changes")
    expect(row).to_contain_text("verified")
    client.post("/api/projects", json={"name": "added later"})

    row.get_by_role("button", name="Restore").click()
    dialog = page.get_by_role("dialog", name="Restore this snapshot?")
    expect(dialog).to_contain_text("before changes")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert names(client) == {"kept", "added later"}

    row.get_by_role("button", name="Restore").click()
    page.get_by_role("dialog", name="Restore this snapshot?").get_by_role("button", name="Restore").click()
    expect(page.get_by_text("the data is live now")).to_be_visible()
    assert names(client) == {"kept"}
    expect(data.locator("[data-snapshot]").filter(has_text="pre-restore-")).to_be_visible()

    auto = data.get_by_role("form", name="Auto-backup")
    auto.get_by_label("Back up automatically").check()
    auto.get_by_label("How often").select_option("6h")
    auto.get_by_label("Keep at most (snapshots)").fill("5")
    auto.get_by_role("button", name="Save auto-backup").click()
    expect(page.get_by_text("Auto-backup saved.")).to_be_visible()
    assert client.get("/api/snapshots/settings").json() == {"enabled": "true", "interval": "6h", "maxCount": "5",
                                                            "maxAgeWeeks": "4"}


def test_sample_data_and_clear_ask_first(page, client):
    client.post("/api/projects", json={"name": "mine"})
    open_page(page, "/settings")
    data = data_section(page)
    data.get_by_role("button", name="Load sample data").click()
    page.get_by_role("dialog", name="Replace your data with sample data?").get_by_role("button", name="Cancel").click()
    assert names(client) == {"mine"}
    data.get_by_role("button", name="Load sample data").click()
    page.get_by_role("dialog", name="Replace your data with sample data?").get_by_role(
        "button", name="Load sample data").click()
    expect(page.get_by_text("Sample data loaded: 3 projects")).to_be_visible()
    assert "Website relaunch" in names(client) and "mine" not in names(client)
    expect(data.locator("[data-snapshot]").filter(has_text="pre-seed-")).to_be_visible()

    data.get_by_role("button", name="Clear all data").click()
    page.get_by_role("dialog", name="Delete all your data?").get_by_role("button", name="Clear all data").click()
    expect(page.get_by_text("Data cleared")).to_be_visible()
    assert names(client) == set()


def test_import_projects_from_disk(page, client, tmp_path):
    root = tmp_path / "code"
    (root / "shop" / ".git").mkdir(parents=True)
    (root / "shop" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "blog").mkdir()
    (root / "blog" / "package.json").write_text("{}")
    (root / "notes").mkdir()
    open_page(page, "/projects")
    page.get_by_role("link", name="Import folders from disk…").click()
    form = page.get_by_role("form", name="Discover projects")
    form.get_by_label("Parent folder").fill(str(root))
    form.get_by_role("button", name="Discover").click()
    expect(page.locator("[data-found]")).to_have_count(2)
    expect(page.locator(f'[data-found="{root / "shop"}"]')).to_contain_text("main")
    page.get_by_label("Name for blog").fill("My blog")
    page.get_by_role("button", name="Import selected").click()
    expect(page.locator("[data-import-complete]")).to_have_text("Done: 2 imported, 0 failed.")
    projects = {p["name"]: p["workingDirectory"] for p in client.get("/api/projects").json()}
    assert projects == {"My blog": str(root / "blog"), "shop": str(root / "shop")}

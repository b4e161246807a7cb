"""The Environment page on a fake home and project: scan (health shown), filter and view an
artifact (its secret masked), preview a sync (the diff) and apply it, roll back, create a
suggested profile."""

from __future__ import annotations

import pytest

from tests.helpers.environment import GITHUB_TOKEN, fake_setup
from tests.ui.conftest import expect, open_page


@pytest.fixture
def setup(tmp_path, monkeypatch):
    return fake_setup(tmp_path, monkeypatch)


def test_scan_view_preview_apply_and_roll_back(page, client, setup):
    home, project = setup
    open_page(page, "/environment")
    expect(page.locator("main")).to_contain_text("No scan yet.")
    page.get_by_label("Project folder").fill(str(project))
    page.get_by_role("button", name="Scan", exact=True).click()
    expect(page.locator("[data-health]")).to_contain_text("Health 90/100")
    expect(page.locator("main")).to_contain_text("21 artifacts")

    page.get_by_label("Category").select_option("mcp-server")
    page.get_by_label("Search artifacts").fill("github")
    rows = page.locator("[data-artifact]")
    expect(rows).to_have_count(1)
    rows.get_by_role("button", name="View").click()
    viewer = page.locator("[data-viewer]")
    expect(viewer).to_contain_text('"GITHUB_TOKEN": "[REDACTED]"')
    assert GITHUB_TOKEN not in page.content()

    viewer.get_by_role("button", name="Preview sync to Codex").click()
    preview = page.locator("[data-preview]")
    expect(preview).to_contain_text("config.toml")
    expect(preview.locator(".diff-add").first).to_contain_text("+")
    expect(preview).to_contain_text("+[mcp_servers.github]")
    assert GITHUB_TOKEN not in page.content()
    page.get_by_role("button", name="Apply sync").click()
    expect(page.locator("main")).to_contain_text("Applied.")
    assert GITHUB_TOKEN in (home / ".codex" / "config.toml").read_text()

    checkpoint = page.locator("[data-checkpoint]").first
    expect(checkpoint).to_contain_text("pre-sync")
    checkpoint.get_by_role("button", name="Roll back").click()
    expect(checkpoint).to_contain_text("rolled_back")
    assert "github" not in (home / ".codex" / "config.toml").read_text()

    suggestion = page.locator('[data-suggestion="security-reviewer"]')
    suggestion.get_by_role("button", name="Create profile").click()
    expect(page.get_by_text("Profile env-security-reviewer created.")).to_be_visible()
    assert client.get("/api/profiles/env-security-reviewer").status_code == 200

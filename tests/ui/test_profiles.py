"""Profiles in the browser: the list filtered by scope, a built-in's SKILL.md, creating a user
profile (by hand and from an AI draft), running its smoke tests, editing and deleting it."""

from __future__ import annotations

import json
import re

import pytest

from tests.ui.conftest import expect, open_page, screenshot


@pytest.fixture(autouse=True)
def skills_home(tmp_path, monkeypatch):
    home = tmp_path / "claude-skills"
    home.mkdir()
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(home))
    return home


def forgive_404(page):
    """A profile never tested answers test-results with 404, which the browser logs."""
    page.problems[:] = [p for p in page.problems if "404" not in p]


def test_list_filter_and_a_builtin_is_read_only(page):
    open_page(page, "/profiles")
    expect(page.locator("tr[data-profile=researcher]")).to_contain_text("Researcher")
    expect(page.locator("tr[data-profile]")).to_have_count(14)
    screenshot(page, "profiles")
    page.get_by_label("Show profiles").select_option("user")
    expect(page.locator("main")).to_contain_text("No profiles of yours yet.")
    page.get_by_label("Show profiles").select_option("builtin")
    page.locator("tr[data-profile=researcher]").get_by_role("link", name="Researcher").click()
    expect(page.locator("h1")).to_have_text("Researcher")
    expect(page.locator(".md")).to_contain_text("Cite every claim with its source")
    expect(page.locator(".md")).not_to_contain_text("description:")
    expect(page.locator("main")).to_contain_text("Built-in profiles cannot be changed")
    expect(page.get_by_role("form", name="Edit profile")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Not run yet.")
    forgive_404(page)


def test_create_test_edit_and_delete_a_profile(page, client, llm_env):
    open_page(page, "/profiles")
    form = page.get_by_role("form", name="New profile")
    form.locator("[name=id]").fill("magic")
    form.locator("[name=name]").fill("Magician")
    form.locator("[name=tags]").fill("magic, tricks")
    form.locator("[name=skillMd]").fill("Always say abracadabra.")
    form.get_by_role("button", name="Create profile").click()
    expect(page).to_have_url(re.compile(r"#/profiles/magic$"))
    expect(page.locator(".md")).to_contain_text("Always say abracadabra.")
    expect(page.locator("main")).to_contain_text("Not run yet.")
    assert client.get("/api/profiles/magic").json()["tags"] == ["magic", "tricks"]

    client.put("/api/profiles/magic", json={**{k: v for k, v in client.get("/api/profiles/magic").json().items()},
                                            "tests": [{"task": "Do a trick", "expectedKeywords": ["abracadabra", "rabbit"]}]})
    page.reload()
    llm_env.enqueue_text("Abracadabra!")
    page.get_by_role("button", name="Run smoke tests").click()
    result = page.locator(".smoke-result")
    expect(result).to_contain_text("found: abracadabra")
    expect(result).to_contain_text("missing: rabbit")
    expect(page.locator("main")).to_contain_text("0 passed, 1 failed")

    edit = page.get_by_role("form", name="Edit profile")
    edit.locator("[name=name]").fill("Grand Magician")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.locator("h1")).to_have_text("Grand Magician")
    assert client.get("/api/profiles/magic").json()["tests"][0]["task"] == "Do a trick"  # kept

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete profile").click()
    expect(page).to_have_url(re.compile(r"#/profiles$"))
    assert client.get("/api/profiles/magic").status_code == 404
    forgive_404(page)


def test_an_ai_draft_fills_the_form(page, client, llm_env):
    llm_env.enqueue_text(json.dumps({"name": "Recipe Scout", "description": "Finds recipes.", "domain": "personal",
                                     "tags": ["recipe", "cooking"], "skillMd": "Find recipes.",
                                     "reasoning": "A cooking helper."}))
    open_page(page, "/profiles")
    page.get_by_label("Goal").fill("help me cook")
    page.get_by_role("button", name="Draft with AI").click()
    form = page.get_by_role("form", name="New profile")
    expect(form.locator("[name=name]")).to_have_value("Recipe Scout")
    expect(form.locator("[name=id]")).to_have_value("recipe-scout")
    expect(form.locator("[name=tags]")).to_have_value("recipe, cooking")
    form.get_by_role("button", name="Create profile").click()
    expect(page).to_have_url(re.compile(r"#/profiles/recipe-scout$"))
    assert client.get("/api/profiles/recipe-scout").json()["domain"] == "personal"
    expect(page.locator("main")).to_contain_text("Not run yet.")  # its test-results 404 has come
    forgive_404(page)

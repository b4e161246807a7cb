"""Settings in the browser: save a provider (the key comes back masked and the test button
reaches the model), budgets, default model and personality, API keys."""

from __future__ import annotations

from tests.ui.conftest import expect, open_page, screenshot

SECRET = "sk-ui-test-key-7781"


def test_save_a_provider_and_test_that_the_model_answers(page, client, fake):
    open_page(page, "/settings")
    openai = page.locator("form[data-provider=openai]")
    openai.get_by_label("API key").fill(SECRET)
    openai.get_by_label("Base URL").fill(fake.base_url)
    openai.get_by_role("button", name="Save").click()
    expect(openai.locator("[data-key-state]")).to_contain_text("7781")
    expect(openai.get_by_label("API key")).to_have_value("")  # the typed secret leaves the page
    assert client.get("/api/settings/openai").json()["hasKey"] is True

    expect(openai.get_by_label("Model")).to_have_value("openai/fake")  # listed again after the save: served
    openai.get_by_role("button", name="Test").click()
    expect(openai.locator("[data-test-result]")).to_have_text("Connected: openai/fake answered.")
    assert fake.requests, "the test button made a real call to the provider"
    page.reload()
    expect(page.locator("form[data-provider=openai] [data-key-state]")).to_contain_text("7781")
    assert SECRET not in page.content()
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    screenshot(page, "settings-provider")


def test_models_of_a_loopback_compatible_server_are_listed_picked_and_tested(page, client, fake):
    client.post("/api/settings/openai", json={"baseUrl": fake.base_url})  # a local server, no key
    fake.script.clear()
    open_page(page, "/settings")
    openai = page.locator("form[data-provider=openai]")
    model = openai.get_by_label("Model")
    expect(model).to_have_value("openai/fake")  # the model the server serves (GET /v1/models)
    expect(page.locator("#models-openai option[value='openai/fake']")).to_have_text("fake (served)")
    expect(page.locator("form[data-provider=anthropic]")).to_have_class("unset")  # no key: greyed
    expect(openai).not_to_have_class("unset")
    expect(page.get_by_role("form", name="Defaults").get_by_label("Default chat model")).to_have_value("openai/fake")

    model.fill("openai/other-model")  # free text: any model id may be typed
    openai.get_by_role("button", name="Test").click()
    expect(openai.locator("[data-test-result]")).to_contain_text("openai/other-model")
    assert fake.requests[-1]["model"] == "other-model"
    model.fill("openai/fake")
    openai.get_by_role("button", name="Test").click()
    expect(openai.locator("[data-test-result]")).to_have_text("Connected: openai/fake answered.")
    assert fake.requests[-1]["model"] == "fake"

    # Chat starts on that model; a provider without a key cannot be picked.
    open_page(page, "/chat")
    picker = page.get_by_label("Model")
    expect(picker.locator("option").first).to_have_text("Default: fake")
    expect(picker.locator("option[value=haiku]")).to_be_disabled()
    fake.enqueue_text("Hello from the local server.")
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill("Hi")
    box.press("Enter")
    expect(page.locator(".msg-assistant .md").last).to_have_text("Hello from the local server.")
    assert fake.requests[-1]["model"] == "fake"
    [conversation] = client.get("/api/chat/conversations").json()
    assert conversation["modelId"] == "openai/fake"


def test_a_provider_that_does_not_answer_is_reported(page):
    open_page(page, "/settings")
    anthropic = page.locator("form[data-provider=anthropic]")
    anthropic.get_by_role("button", name="Test").click()
    expect(anthropic.locator("[data-test-result=failed]")).to_have_text(
        "Not connected: no Anthropic key is set yet. Type it above and Save, then Test.")
    anthropic.get_by_label("API key").fill("not-a-key")
    anthropic.get_by_role("button", name="Save").click()
    expect(anthropic.get_by_role("alert")).to_have_text("apiKey: API key must start with sk-ant-")
    page.problems[:] = [p for p in page.problems if "400" not in p]


def test_budgets_defaults_and_api_keys(page, client, daemon):
    open_page(page, "/settings")
    budgets = page.get_by_role("form", name="Budgets")
    budgets.get_by_label("Monthly cap (USD)").fill("20")
    budgets.get_by_role("button", name="Save budgets").click()
    expect(page.locator("main")).to_contain_text("$20.00")
    assert client.get("/api/settings/budgets").json()["monthlyLimit"] == 20

    defaults = page.get_by_role("form", name="Defaults")
    defaults.get_by_label("Default chat model").fill("gpt-5.4-mini")
    defaults.get_by_label("Default model for tasks").fill("gpt-5.4-mini")
    defaults.get_by_label("Personality").select_option("friendly")
    defaults.get_by_role("button", name="Save defaults").click()
    expect(page.locator(".toast", has_text="Defaults saved.")).to_be_visible()
    assert client.get("/api/settings/chat").json()["defaultModel"] == "gpt-5.4-mini"
    assert client.get("/api/settings/tasks").json()["defaultModel"] == "gpt-5.4-mini"

    keys = page.get_by_role("form", name="New API key")
    keys.get_by_label("Name").fill("backup script")
    keys.get_by_role("button", name="Create key").click()
    secret = page.locator(".notice pre").inner_text().strip()
    assert secret.startswith("stg_")
    assert client.get("/api/projects", headers={"X-API-Key": secret}).status_code == 200
    row = page.locator("tr", has_text="backup script")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_have_count(0)
    assert client.get("/api/projects", headers={"X-API-Key": secret}).status_code == 401

"""/api/settings: provider keys (never echoed), the simple settings groups, the connection test, security."""

from __future__ import annotations

import httpx
import pytest

from stagent.api.settings.groups import GROUPS
from stagent.app import create_app
from stagent.config import Config
from tests.engine.test_approvals import start_task
from tests.helpers.scheduling import wait_until
from tests.helpers.servers import ThreadedServer, bound_socket, free_port

ANTHROPIC_KEY = "sk-ant-api03-secret-value-1234"
OPENAI_KEY = "sk-proj-secret-value-9876"


def flatten_fields(response) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"formErrors", "fieldErrors"}
    return error["fieldErrors"]


# ---- Anthropic -----------------------------------------------------------------------------

def test_anthropic_defaults_to_oauth_without_a_key(client):
    assert client.get("/api/settings").json() == {"method": "oauth", "hasKey": False,
                                                  "apiKeySource": "unknown"}


def test_anthropic_key_alone_implies_api_key_and_is_masked(client):
    response = client.post("/api/settings", json={"apiKey": ANTHROPIC_KEY})
    assert response.status_code == 200
    body = response.json()
    assert body == {"method": "api_key", "hasKey": True, "apiKeySource": "db", "maskedKey": "sk-…1234"}
    assert ANTHROPIC_KEY not in response.text
    assert client.get("/api/settings").json() == body


def test_anthropic_switch_to_oauth_deletes_the_stored_key(client):
    client.post("/api/settings", json={"method": "api_key", "apiKey": ANTHROPIC_KEY})
    body = client.post("/api/settings", json={"method": "oauth"}).json()
    assert body == {"method": "oauth", "hasKey": False, "apiKeySource": "unknown"}


def test_anthropic_rejects_a_key_without_the_prefix(client):
    fields = flatten_fields(client.post("/api/settings", json={"apiKey": "sk-proj-abc"}))
    assert fields == {"apiKey": ["API key must start with sk-ant-"]}


@pytest.mark.parametrize("body", [{}, {"method": "password"}, {"apiKey": 12}, {"apiKey": None}])
def test_anthropic_invalid_bodies_get_the_flatten_shape(client, body):
    flatten_fields(client.post("/api/settings", json=body))
    assert client.get("/api/settings").json()["hasKey"] is False


def test_anthropic_env_key_is_reported_as_env(client, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    body = client.get("/api/settings").json()
    assert body == {"method": "api_key", "hasKey": True, "apiKeySource": "env", "maskedKey": "sk-…1234"}


# ---- OpenAI --------------------------------------------------------------------------------

def test_openai_starts_unset(client):
    assert client.get("/api/settings/openai").json() == {"hasKey": False, "apiKeySource": "unknown",
                                                         "baseUrl": None}


def test_openai_key_and_base_url_are_stored(client):
    response = client.post("/api/settings/openai",
                           json={"apiKey": OPENAI_KEY, "baseUrl": "http://127.0.0.1:9/v1"})
    assert response.status_code == 200
    assert response.json() == {"hasKey": True, "apiKeySource": "db", "baseUrl": "http://127.0.0.1:9/v1",
                               "maskedKey": "sk-…9876"}
    assert OPENAI_KEY not in response.text
    # null removes each of them again
    body = client.post("/api/settings/openai", json={"apiKey": None, "baseUrl": None}).json()
    assert body == {"hasKey": False, "apiKeySource": "unknown", "baseUrl": None}


def test_openai_env_fallback(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    assert client.get("/api/settings/openai").json() == {
        "hasKey": True, "apiKeySource": "env", "baseUrl": "http://127.0.0.1:9/v1", "maskedKey": "sk-…9876"}


def test_openai_base_url_alone_counts_as_its_source(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    body = client.get("/api/settings/openai").json()
    assert body["hasKey"] is False and body["apiKeySource"] == "env"


def test_openai_db_beats_env(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-0000")
    client.post("/api/settings/openai", json={"apiKey": OPENAI_KEY})
    body = client.get("/api/settings/openai").json()
    assert body["apiKeySource"] == "db" and body["maskedKey"] == "sk-…9876"


@pytest.mark.parametrize("body, field, message", [
    ({"apiKey": "pk-123"}, "apiKey", "API key must start with sk-"),
    ({"baseUrl": "ftp://example.com"}, "baseUrl", None),
    ({"baseUrl": "not a url"}, "baseUrl", None),
    ({"apiKey": 42}, "apiKey", None),
])
def test_openai_rejects_invalid_values(client, body, field, message):
    fields = flatten_fields(client.post("/api/settings/openai", json=body))
    assert list(fields) == [field]
    if message:
        assert fields[field] == [message]


def test_openai_needs_a_key_or_a_base_url(client):
    response = client.post("/api/settings/openai", json={"other": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["formErrors"]


# ---- provider overview ---------------------------------------------------------------------

RUNTIME_STATE_KEYS = {"runtimeId", "label", "providerId", "configured", "authMethod", "apiKeySource",
                      "billingMode", "id", "name", "status"}


def test_providers_overview_with_nothing_configured(client):
    body = client.get("/api/settings/providers").json()
    assert body["routingPreference"] == "latency"
    assert body["configuredProviderCount"] == 0
    anthropic, openai, ollama = (body["providers"][p] for p in ("anthropic", "openai", "ollama"))
    assert [r["runtimeId"] for r in anthropic["runtimes"]] == ["claude-code", "anthropic-direct"]
    assert [r["runtimeId"] for r in openai["runtimes"]] == ["openai-codex-app-server", "openai-direct"]
    assert [r["runtimeId"] for r in ollama["runtimes"]] == ["ollama"]
    assert anthropic["configured"] is False and anthropic["dualBilling"] is False
    assert openai["dualBilling"] is False and ollama["baseUrl"] == "http://localhost:11434"
    for provider in (anthropic, openai, ollama):
        for state in provider["runtimes"]:
            assert set(state) == RUNTIME_STATE_KEYS
            assert state["id"] == state["runtimeId"] and state["name"] == state["label"]
            assert (state["configured"], state["status"], state["authMethod"]) == (False, "not_configured", "none")


def test_providers_overview_reflects_keys_and_sources(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    client.post("/api/settings", json={"apiKey": ANTHROPIC_KEY})
    client.post("/api/settings/routing", json={"preference": "quality"})
    response = client.get("/api/settings/providers")
    body = response.json()
    assert body["routingPreference"] == "quality" and body["configuredProviderCount"] == 2
    anthropic, openai = body["providers"]["anthropic"], body["providers"]["openai"]
    assert (anthropic["configured"], anthropic["authMethod"], anthropic["apiKeySource"]) == (True, "api_key", "db")
    assert (openai["configured"], openai["hasKey"], openai["apiKeySource"]) == (True, True, "env")
    for state in anthropic["runtimes"] + openai["runtimes"]:
        assert state["status"] == "ready" and state["authMethod"] == "api_key"
        assert state["billingMode"] == "usage"
    assert {s["apiKeySource"] for s in openai["runtimes"]} == {"env"}
    assert ANTHROPIC_KEY not in response.text and OPENAI_KEY not in response.text


def test_providers_overview_shows_oauth_choice_and_dual_billing(client, monkeypatch):
    client.post("/api/settings", json={"method": "oauth"})
    claude = client.get("/api/settings/providers").json()["providers"]["anthropic"]["runtimes"][0]
    assert (claude["authMethod"], claude["billingMode"], claude["configured"]) == ("oauth", "subscription", False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    assert client.get("/api/settings/providers").json()["providers"]["anthropic"]["dualBilling"] is True


def test_ollama_counts_as_configured_once_its_base_url_is_set(client):
    client.post("/api/settings/ollama", json={"baseUrl": "http://127.0.0.1:11434"})
    body = client.get("/api/settings/providers").json()
    assert body["providers"]["ollama"]["configured"] is True
    assert body["providers"]["ollama"]["runtimes"][0]["status"] == "ready"
    assert body["configuredProviderCount"] == 1


# ---- the simple groups ---------------------------------------------------------------------

DEFAULTS = {
    "runtime": {"sdkTimeoutSeconds": "60", "maxTurns": "10"},
    "chat": {"defaultModel": "haiku"},
    "routing": {"preference": "latency"},
    "ollama": {"baseUrl": "http://localhost:11434", "defaultModel": ""},
    "tasks": {"defaultModel": None},
}
UPDATES = {
    "runtime": ({"sdkTimeoutSeconds": 120, "maxTurns": "25"}, {"sdkTimeoutSeconds": "120", "maxTurns": "25"}),
    "chat": ({"defaultModel": "openrouter/meta-llama/llama-3-70b"},
             {"defaultModel": "openrouter/meta-llama/llama-3-70b"}),
    "routing": ({"preference": "cost"}, {"preference": "cost"}),
    "ollama": ({"baseUrl": "http://127.0.0.1:11500", "defaultModel": "llama3.2"},
               {"baseUrl": "http://127.0.0.1:11500", "defaultModel": "llama3.2"}),
    "tasks": ({"defaultModel": "ollama/llama3.2"}, {"defaultModel": "ollama/llama3.2"}),
}
PUBLIC_GROUPS = [g for g in GROUPS if g.scope is None]


def test_every_public_group_is_covered_here():
    assert {g.name for g in PUBLIC_GROUPS} == set(DEFAULTS) == set(UPDATES)


@pytest.mark.parametrize("group", PUBLIC_GROUPS, ids=lambda g: g.name)
def test_group_defaults_and_round_trip(client, group, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-test-key")  # openrouter/… names a configured provider
    path = f"/api/settings/{group.name}"
    assert client.get(path).json() == DEFAULTS[group.name]
    sent, stored = UPDATES[group.name]
    response = client.request(group.method, path, json=sent)
    assert response.status_code == 200, response.text
    assert response.json() == ({"ok": True} if group.reply_ok else stored)
    assert client.get(path).json() == stored


@pytest.mark.parametrize("group", PUBLIC_GROUPS, ids=lambda g: g.name)
def test_group_rejects_a_body_that_is_not_an_object(client, group):
    response = client.request(group.method, f"/api/settings/{group.name}", json=["x"])
    assert response.status_code == 400
    assert client.get(f"/api/settings/{group.name}").json() == DEFAULTS[group.name]


@pytest.mark.parametrize("body, message", [
    ({"sdkTimeoutSeconds": 5}, "sdkTimeoutSeconds must be between 10 and 300"),
    ({"sdkTimeoutSeconds": "301"}, "sdkTimeoutSeconds must be between 10 and 300"),
    ({"sdkTimeoutSeconds": "abc"}, "sdkTimeoutSeconds must be between 10 and 300"),
    ({"sdkTimeoutSeconds": True}, "sdkTimeoutSeconds must be between 10 and 300"),
    ({"maxTurns": 0}, "maxTurns must be between 1 and 50"),
    ({"maxTurns": 51}, "maxTurns must be between 1 and 50"),
    ({"maxTurns": 2.5}, "maxTurns must be between 1 and 50"),
])
def test_runtime_range_errors_are_plain_messages(client, body, message):
    response = client.post("/api/settings/runtime", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert client.get("/api/settings/runtime").json() == DEFAULTS["runtime"]


def test_runtime_accepts_boundaries_and_partial_updates(client):
    assert client.post("/api/settings/runtime", json={"sdkTimeoutSeconds": 10.0}).json() == {
        "sdkTimeoutSeconds": "10", "maxTurns": "10"}
    assert client.post("/api/settings/runtime", json={"maxTurns": " 50 "}).json() == {
        "sdkTimeoutSeconds": "10", "maxTurns": "50"}
    assert client.post("/api/settings/runtime", json={}).json() == {"sdkTimeoutSeconds": "10", "maxTurns": "50"}


@pytest.mark.parametrize("body", [{}, {"defaultModel": ""}, {"defaultModel": "   "}, {"defaultModel": 3}])
def test_chat_rejects_missing_or_blank_models(client, body):
    response = client.put("/api/settings/chat", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "defaultModel must be a non-empty model id"}


def test_chat_accepts_catalogue_ids(client, llm_env):
    for model in ("sonnet", "opus", "gpt-4.1", "openai/fake"):  # gpt-4.1: OpenAI is configured
        assert client.put("/api/settings/chat", json={"defaultModel": model}).json() == {"defaultModel": model}


@pytest.mark.parametrize("body", [{}, {"preference": "fastest"}, {"preference": None}])
def test_routing_rejects_unknown_preferences(client, body):
    response = client.post("/api/settings/routing", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "preference must be one of: cost, latency, quality, manual"}


def test_ollama_rejects_a_bad_url_and_resets_with_null(client, monkeypatch):
    response = client.post("/api/settings/ollama", json={"baseUrl": "localhost:11434"})
    assert response.status_code == 400 and response.json()["error"].startswith("baseUrl")
    client.post("/api/settings/ollama", json={"baseUrl": "http://127.0.0.1:1", "defaultModel": "llama3"})
    monkeypatch.setenv("OLLAMA_API_BASE", "http://127.0.0.1:2")
    assert client.get("/api/settings/ollama").json()["baseUrl"] == "http://127.0.0.1:1"  # db beats env
    client.post("/api/settings/ollama", json={"baseUrl": None, "defaultModel": ""})
    assert client.get("/api/settings/ollama").json() == {"baseUrl": "http://127.0.0.1:2", "defaultModel": ""}


# ---- connection test -----------------------------------------------------------------------

def test_connection_test_without_a_key_says_how_to_configure(client):
    response = client.post("/api/settings/test", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["connected"] is False and body["runtime"] == "claude-code"
    assert body["apiKeySource"] == "unknown"
    assert "/api/settings" in body["error"]
    assert body["capabilities"]["resume"] is True and body["capabilities"]["mcpServers"] is True


def test_connection_test_of_an_unknown_runtime(client):
    body = client.post("/api/settings/test", json={"runtime": "hal-9000"}).json()
    assert body["connected"] is False and body["runtime"] == "hal-9000"
    assert "Unknown runtime" in body["error"] and body["capabilities"] == {}


def test_connection_test_rejects_a_non_string_runtime(client):
    assert client.post("/api/settings/test", json={"runtime": 5}).status_code == 400


def test_connection_test_calls_the_provider(client, fake):
    client.post("/api/settings/openai", json={"apiKey": "sk-test", "baseUrl": fake.base_url})
    response = client.post("/api/settings/test", json={"runtime": "openai-direct"})
    body = response.json()
    assert response.status_code == 200
    assert body["connected"] is True, body
    assert body["runtime"] == "openai-direct" and body["apiKeySource"] == "db"
    assert body["capabilities"]["mcpServers"] is False and "error" not in body
    assert len(fake.requests) == 1 and fake.requests[0]["model"] == "gpt-4.1"

    fake.enqueue_error(401, "Incorrect API key provided: sk-test")
    response = client.post("/api/settings/test", json={"runtime": "openai-direct"})
    body = response.json()
    assert response.status_code == 200
    assert body["connected"] is False and body["error"]
    assert "sk-test" not in response.text
    assert len(fake.requests) == 2


# ---- secrets -------------------------------------------------------------------------------

def test_no_route_ever_returns_a_stored_secret(client, fake):
    bodies = [
        client.post("/api/settings", json={"apiKey": ANTHROPIC_KEY}).text,
        client.post("/api/settings/openai", json={"apiKey": OPENAI_KEY, "baseUrl": fake.base_url}).text,
    ]
    fake.enqueue_error(401, f"Incorrect API key provided: {OPENAI_KEY}")
    bodies.append(client.post("/api/settings/test", json={"runtime": "openai-direct"}).text)
    for path in ("/api/settings", "/api/settings/openai", "/api/settings/providers",
                 *(f"/api/settings/{g.name}" for g in PUBLIC_GROUPS)):
        bodies.append(client.get(path).text)
    for body in bodies:
        assert ANTHROPIC_KEY not in body and OPENAI_KEY not in body


# ---- security (admin scope) ----------------------------------------------------------------

def test_security_needs_an_admin_key(daemon, client):
    assert client.get("/api/settings/security").status_code == 401
    assert client.put("/api/settings/security", json={"requireApiKey": True}).status_code == 401
    admin = {"X-API-Key": daemon.api_key}
    reader = client.post("/api/keys", json={"name": "reader", "scopes": ["stagent:read"]}, headers=admin).json()
    response = client.get("/api/settings/security", headers={"X-API-Key": reader["key"]})
    assert response.status_code == 403
    assert client.get("/api/settings/security", headers=admin).json() == {"requireApiKey": False}


def test_security_toggle_requires_keys_at_once(daemon, client):
    admin = {"X-API-Key": daemon.api_key}
    assert client.get("/api/tasks").status_code == 200
    response = client.put("/api/settings/security", json={"requireApiKey": True}, headers=admin)
    assert response.status_code == 200 and response.json() == {"requireApiKey": True}
    assert client.get("/api/tasks").status_code == 401
    assert client.get("/api/tasks", headers=admin).status_code == 200
    assert client.get("/api/settings/security", headers=admin).json() == {"requireApiKey": True}

    assert client.put("/api/settings/security", json={"requireApiKey": False}, headers=admin).status_code == 200
    assert client.get("/api/tasks").status_code == 200


@pytest.mark.parametrize("body", [{}, {"requireApiKey": "yes"}, {"requireApiKey": None}])
def test_security_rejects_non_booleans(daemon, client, body):
    response = client.put("/api/settings/security", json=body, headers={"X-API-Key": daemon.api_key})
    assert response.status_code == 400
    assert response.json() == {"error": "requireApiKey must be a boolean"}


def test_security_setting_survives_a_restart(daemon, client):
    admin = {"X-API-Key": daemon.api_key}
    client.put("/api/settings/security", json={"requireApiKey": True}, headers=admin)
    daemon.stop()
    sock = bound_socket()
    port = sock.getsockname()[1]
    server = ThreadedServer(create_app(Config(port=port, data_dir=daemon.data_dir, warm_llm=False)), sock=sock).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as again:
            assert again.get("/api/tasks").status_code == 401
            assert again.get("/api/tasks", headers=admin).status_code == 200
    finally:
        server.stop()


def test_required_keys_leave_the_signed_inbound_webhooks_reachable(daemon, client):
    admin = {"X-API-Key": daemon.api_key}
    client.put("/api/settings/security", json={"requireApiKey": True}, headers=admin)
    # Slack and Telegram call these with their own signature or secret, never with our key.
    r = client.post("/api/channels/inbound/slack?configId=missing", json={"type": "event_callback"})
    assert r.status_code == 404 and r.json() == {"error": "Channel not found"}
    r = client.post("/api/channels/inbound/telegram?configId=missing&secret=s", json={"update_id": 1})
    assert r.status_code == 404
    assert client.post("/api/channels/inbound/telegram/poll?configId=missing").status_code == 401
    assert client.get("/api/channels").status_code == 401


def test_the_default_task_model_is_set_and_cleared(client, llm_env, monkeypatch):
    monkeypatch.delenv("STAGENT_DEFAULT_MODEL")
    assert client.get("/api/settings/tasks").json() == {"defaultModel": None}
    r = client.put("/api/settings/tasks", json={"defaultModel": " openai/fake "})
    assert (r.status_code, r.json()) == (200, {"defaultModel": "openai/fake"})
    start_task(client, "uses the default")
    body = wait_until(lambda: llm_env.requests)[0]
    assert body["model"] == "fake"
    assert client.put("/api/settings/tasks", json={"defaultModel": 5}).status_code == 400
    assert client.put("/api/settings/tasks", json={"defaultModel": ""}).json() == {"defaultModel": None}


def test_an_unreachable_ollama_is_explained_in_words(client):
    port = free_port()  # nothing listens there
    client.post("/api/settings/ollama", json={"baseUrl": f"http://127.0.0.1:{port}", "defaultModel": "llama3"})
    body = client.post("/api/settings/test", json={"runtime": "ollama"}).json()
    assert body["connected"] is False
    assert body["error"] == (f"Could not reach Ollama at http://127.0.0.1:{port}. Make sure it is running "
                             "(`ollama serve`) and that the base URL is right.")

"""/api/runtimes: keyword routing over configured runtimes, and the Ollama proxy against a loopback fake."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.helpers.servers import ThreadedServer, free_port

MODELS = {"models": [{"name": "llama3.2:latest", "size": 4661224676, "digest": "a6990ed6be41",
                      "modified_at": "2026-04-01T08:00:00Z"}]}


class FakeOllama:
    """Ollama's /api/tags and non-streaming /api/pull; `requests` records the pull bodies."""

    def __init__(self) -> None:
        self.pulls: list[dict] = []
        self.app = Starlette(routes=[Route("/api/tags", self.tags, methods=["GET"]),
                                     Route("/api/pull", self.pull, methods=["POST"])])
        self.server = ThreadedServer(self.app).start()
        self.url = self.server.url

    async def tags(self, request: Request):
        return JSONResponse(MODELS)

    async def pull(self, request: Request):
        body = await request.json()
        self.pulls.append(body)
        if body["model"] == "missing":
            return JSONResponse({"error": "pull model manifest: file does not exist"}, status_code=404)
        if body["model"] == "garbled":
            return PlainTextResponse("<html>not json</html>")
        return JSONResponse({"status": "success"})


@pytest.fixture(scope="module")
def ollama_server():
    fake = FakeOllama()
    yield fake
    fake.server.stop()


@pytest.fixture
def ollama(ollama_server, client):
    ollama_server.pulls.clear()
    assert client.post("/api/settings/ollama", json={"baseUrl": ollama_server.url}).json() == {"ok": True}
    return ollama_server


def suggest(client, title, description=None, **extra):
    response = client.post("/api/runtimes/suggest", json={"title": title, "description": description, **extra})
    assert response.status_code == 200, response.text
    return response.json()


# ---- suggest -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": None}, {"title": 7}, {"description": "x"}])
def test_suggest_needs_a_title(client, body):
    response = client.post("/api/runtimes/suggest", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "title is required"}


def test_suggest_rejects_a_non_string_description(client):
    response = client.post("/api/runtimes/suggest", json={"title": "x", "description": 5})
    assert response.status_code == 400
    assert "description" in response.json()["error"]["fieldErrors"]


def configure_cloud(client, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0000")
    client.post("/api/settings/openai", json={"apiKey": "sk-test-key-0000"})


@pytest.mark.parametrize("title, description, expected", [
    ("Refactor the auth module", "then debug the failing tests", "claude-code"),
    ("Research competitors", "and write a summary report", "anthropic-direct"),
    ("Analyze the sales data", "and chart it", "openai-direct"),
    ("Run it in a sandbox", "isolated from my machine", "openai-codex-app-server"),
])
def test_suggest_routes_by_keywords(client, monkeypatch, title, description, expected):
    configure_cloud(client, monkeypatch)
    body = suggest(client, title, description, profileId="general")
    assert body["runtimeId"] == expected
    assert body["reason"].startswith("Best match for task content")
    alternatives = [a["runtimeId"] for a in body["alternatives"]]
    assert expected not in alternatives
    assert set(alternatives) == {"claude-code", "openai-codex-app-server", "anthropic-direct",
                                 "openai-direct"} - {expected}
    assert all(a["reason"] for a in body["alternatives"])


def test_suggest_matches_word_starts_not_substrings(client, monkeypatch):
    configure_cloud(client, monkeypatch)
    # "profile" must not count as "file", "latest" not as "test"
    body = suggest(client, "Update the latest profile page")
    assert body["runtimeId"] == "anthropic-direct"  # latency tiebreak, no keyword signals
    assert body["reason"] == "No keyword signals; optimizing for latency"


def test_suggest_only_offers_configured_runtimes(client):
    client.post("/api/settings/openai", json={"apiKey": "sk-test-key-0000"})
    body = suggest(client, "Refactor and debug the parser")
    assert body["runtimeId"] in ("openai-direct", "openai-codex-app-server")
    offered = {body["runtimeId"], *(a["runtimeId"] for a in body["alternatives"])}
    assert offered == {"openai-direct", "openai-codex-app-server"}


def test_suggest_follows_the_routing_preference(client, monkeypatch):
    configure_cloud(client, monkeypatch)
    client.post("/api/settings/ollama", json={"baseUrl": "http://127.0.0.1:11434"})
    client.post("/api/settings/routing", json={"preference": "cost"})
    assert suggest(client, "Plan the week")["runtimeId"] == "ollama"
    client.post("/api/settings/routing", json={"preference": "quality"})
    body = suggest(client, "Plan the week")
    assert body["runtimeId"] == "claude-code" and body["reason"].endswith("optimizing for quality")
    client.post("/api/settings/routing", json={"preference": "manual"})
    body = suggest(client, "Analyze the data")
    assert body["runtimeId"] == "claude-code" and body["reason"].startswith("Manual routing")


def test_suggest_with_nothing_configured_still_answers(client):
    body = suggest(client, "Summarise my notes offline", "keep it local and private")
    assert body["runtimeId"] == "ollama"
    assert "not configured" in body["reason"]
    assert len(body["alternatives"]) == 4
    assert all("not configured" in a["reason"] for a in body["alternatives"])


# ---- Ollama --------------------------------------------------------------------------------

def test_ollama_models_are_proxied(client, ollama):
    response = client.get("/api/runtimes/ollama")
    assert response.status_code == 200
    assert response.json() == MODELS


def test_ollama_base_url_from_the_environment(client, ollama_server, monkeypatch):
    monkeypatch.setenv("OLLAMA_API_BASE", ollama_server.url)
    assert client.get("/api/runtimes/ollama").json() == MODELS


def test_ollama_pull(client, ollama):
    response = client.post("/api/runtimes/ollama", json={"action": "pull", "model": "llama3.2"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": "llama3.2", "ollamaStatus": "success"}
    assert ollama.pulls == [{"name": "llama3.2", "model": "llama3.2", "stream": False}]


@pytest.mark.parametrize("body, message", [
    ({"action": "delete", "model": "llama3.2"}, "Unknown action: delete"),
    ({"model": "llama3.2"}, "Unknown action: None"),
    ({"action": "pull"}, "model is required"),
    ({"action": "pull", "model": ""}, "model is required"),
    ({"action": "pull", "model": 3}, "model is required"),
])
def test_ollama_pull_validates_the_body(client, ollama, body, message):
    response = client.post("/api/runtimes/ollama", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert ollama.pulls == []


@pytest.mark.parametrize("model", ["missing", "garbled"])
def test_ollama_pull_failures_are_502(client, ollama, model):
    response = client.post("/api/runtimes/ollama", json={"action": "pull", "model": model})
    assert response.status_code == 502
    body = response.json()
    assert body["error"] and "ollama serve" in body["hint"]
    if model == "missing":
        assert "file does not exist" in body["error"]


def test_ollama_unreachable_is_502_with_a_hint(client):
    dead = f"http://127.0.0.1:{free_port()}"
    client.post("/api/settings/ollama", json={"baseUrl": dead})
    for response in (client.get("/api/runtimes/ollama"),
                     client.post("/api/runtimes/ollama", json={"action": "pull", "model": "llama3.2"})):
        assert response.status_code == 502
        body = response.json()
        assert set(body) == {"error", "hint"}
        assert dead in body["error"] and "/api/settings/ollama" in body["hint"]

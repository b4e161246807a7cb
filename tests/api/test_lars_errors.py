"""The Lars error envelope and codes: not-found codes, validation, auth and workspace, provider
and budget failures, and a daemon bug, each in `{success: false, error, code, timestamp}`."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.api.test_clients import TIMESTAMP, data_of, error_of, lars_client
from tests.api.test_lars import ACTIONS, CHAT, CLIENTS, TASK, db_rows, execute, new_client, suggest
from tests.conftest import Daemon


@pytest.fixture
def lars(daemon, llm_env):
    with lars_client(daemon) as client:
        yield client


def test_not_found_codes(daemon, lars, fake):
    error_of(lars.post(CHAT, json={"content": "hi", "conversationId": "nope"}), 404, "CONVERSATION_NOT_FOUND")
    stagent_chat = daemon.client.post("/api/chat/conversations", json={"runtimeId": "claude-code"}).json()
    error_of(lars.post(CHAT, json={"content": "hi", "conversationId": stagent_chat["id"]}), 404,
             "CONVERSATION_NOT_FOUND")
    message = error_of(execute(lars, "nope", autoApprove=True), 404, "ACTION_NOT_FOUND")
    assert message == "Action not found or unauthorized"
    error_of(lars.get(f"{ACTIONS}/nope"), 404, "ACTION_NOT_FOUND")
    error_of(lars.post(f"{ACTIONS}/nope/respond", json={"behavior": "allow"}), 404, "ACTION_NOT_FOUND")
    error_of(lars.get(f"{CLIENTS}/nope"), 404, "CLIENT_NOT_FOUND")

    acme = new_client(lars, name="Acme Corp")
    action = suggest(lars, fake, {**TASK, "params": {"title": "t", "clientId": acme["id"]}})
    data_of(lars.delete(f"{CLIENTS}/{acme['id']}"))
    assert acme["id"] in error_of(execute(lars, action["id"], autoApprove=True), 404, "CLIENT_NOT_FOUND")
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "SUGGESTED"  # nothing changed


@pytest.mark.parametrize("request_args,field", [
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "Malformed JSON"),
    ({"json": ["content"]}, "expected object"),
    ({"json": {}}, "content"),
    ({"json": {"content": "   "}}, "content"),
    ({"json": {"content": 42}}, "content"),
    ({"json": {"content": "hi", "conversationId": ""}}, "conversationId"),
])
def test_chat_validation_errors_name_the_field(lars, fake, request_args, field):
    response = lars.post(CHAT, **request_args)
    assert field in error_of(response, 400, "VALIDATION_ERROR")
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert fake.requests == []


def test_execute_validation_errors_name_the_field(lars, fake):
    action = suggest(lars, fake, {**TASK, "params": {"title": "t"}})
    assert "autoApprove" in error_of(execute(lars, action["id"], autoApprove="yes"), 400, "VALIDATION_ERROR")
    assert "actionId" in error_of(execute(lars, action["id"], actionId="other", autoApprove=True), 400,
                                  "VALIDATION_ERROR")
    assert "behavior" in error_of(lars.post(f"{ACTIONS}/{action['id']}/respond", json={"behavior": "maybe"}), 400,
                                  "VALIDATION_ERROR")
    assert "limit" in error_of(lars.get(ACTIONS, params={"limit": 10**30}), 400, "VALIDATION_ERROR")
    assert data_of(lars.get(f"{ACTIONS}/{action['id']}"))["status"] == "SUGGESTED"


def test_every_failure_on_the_prefix_uses_the_envelope(daemon, lars, tmp_path):
    error_of(lars.get(CHAT), 405, "METHOD_NOT_ALLOWED")
    assert lars.get(CHAT).headers["Allow"] == "POST"
    error_of(lars.get("/api/ai-agent/nothing-here"), 404, "NOT_FOUND")
    error_of(lars.post(CHAT, json={"content": "hi"}, headers={"Origin": "http://evil.example"}), 403, "FORBIDDEN")
    small = Daemon(tmp_path / "small", max_body_bytes=100)
    try:
        with lars_client(small) as client:
            error_of(client.post(CHAT, json={"content": "x" * 200}), 413, "PAYLOAD_TOO_LARGE")
    finally:
        small.stop()


def test_a_daemon_bug_is_a_500_in_the_envelope_with_the_rate_limit_headers(daemon, lars):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:  # a broken database, not a client error
        conn.execute("DROP TABLE clients")
    response = lars.get(CLIENTS)
    assert "daemon log" in error_of(response, 500, "INTERNAL_ERROR")
    assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == ("120", "119")
    assert lars.get(CLIENTS).headers["X-RateLimit-Remaining"] == "118"  # the daemon goes on


def test_auth_and_workspace_are_required(daemon, lars):
    with httpx.Client(base_url=daemon.url, headers={"X-Workspace-Id": "default"}) as anonymous:
        for method, path in (("POST", CHAT), ("POST", f"{ACTIONS}/x/execute"), ("GET", f"{ACTIONS}/x")):
            error_of(anonymous.request(method, path, json={"content": "hi"}), 401, "UNAUTHORIZED")
            error_of(anonymous.request(method, path, json={"content": "hi"}, headers={"X-API-Key": "stg_wrong"}), 401,
                     "UNAUTHORIZED")
    keys = {scope: daemon.client.post("/api/keys", json={"name": scope, "scopes": [scope]},
                                      headers={"X-API-Key": daemon.api_key}).json()["key"]
            for scope in ("ai-agent:chat", "ai-agent:actions")}
    with lars_client(daemon, key=keys["ai-agent:actions"]) as actions_only:
        assert "ai-agent:chat" in error_of(actions_only.post(CHAT, json={"content": "hi"}), 403, "INSUFFICIENT_SCOPE")
        assert "admin" in error_of(actions_only.post(f"{ACTIONS}/x/respond", json={"behavior": "allow"}), 403,
                                   "INSUFFICIENT_SCOPE")
    with lars_client(daemon, key=keys["ai-agent:chat"]) as chat_only:
        error_of(execute(chat_only, "x", autoApprove=True), 403, "INSUFFICIENT_SCOPE")
    with httpx.Client(base_url=daemon.url, headers={"X-API-Key": daemon.api_key}) as no_workspace:
        assert "X-Workspace-Id" in error_of(no_workspace.post(CHAT, json={"content": "hi"}), 400, "VALIDATION_ERROR")
    with lars_client(daemon, "no-such-project") as unknown:
        error_of(unknown.post(CHAT, json={"content": "hi"}), 404, "WORKSPACE_NOT_FOUND")


def test_no_provider_is_400_and_leaves_no_conversation(daemon):
    with lars_client(daemon) as lars:
        assert "provider" in error_of(lars.post(CHAT, json={"content": "hi"}), 400, "NO_PROVIDER").lower()
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations")[0][0] == 0


def test_provider_and_budget_failures_use_the_envelope(daemon, lars, fake, monkeypatch):
    fake.enqueue_error(400, "the model refused")
    error_of(lars.post(CHAT, json={"content": "hi"}), 502, "UPSTREAM_ERROR")
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")  # a priced model
    daemon.client.post("/api/settings/budgets", json={"overall": {"monthlySpendCapUsd": 0.001,
                                                                  "dailySpendCapUsd": 0.001}})
    requests_before = len(fake.requests)
    response = lars.post(CHAT, json={"content": "hi " * 50})
    assert "budget" in error_of(response, 429, "BUDGET_EXCEEDED").lower()
    assert "X-RateLimit-Remaining" in response.headers and len(fake.requests) == requests_before
    # the failed turn kept its message; the refused one left no empty conversation behind
    assert db_rows(daemon, "SELECT COUNT(*) FROM conversations WHERE mode = 'assistant'")[0][0] == 1


def test_the_timestamp_is_iso_8601_utc(lars):
    body = lars.get(f"{ACTIONS}/nope").json()
    assert TIMESTAMP.match(body["timestamp"])

"""Issue 20 over real HTTP: provider errors never carry a secret, lone UTF-16 surrogates never
cause a 500 (nor lose a run's output), working directories and model ids are checked when they
are set, and the smaller catalogue conformance fixes (log event fields, Stan task fields and
codes, task assist)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers.sse import iter_events

OPENAI_KEY = "sk-proj-Hardening0123456789SecretValue"
CHANNEL_SECRET = "whsec-hardening-channel-secret-42"
BEARER = "Bearer abcDEF123456ghiJKL7890"


@pytest.fixture
def provider_key(client, fake):
    """The fake provider configured through the settings API, with a long key in the database."""
    r = client.post("/api/settings/openai", json={"apiKey": OPENAI_KEY, "baseUrl": fake.base_url})
    assert r.status_code == 200, r.text
    return fake


def queued(client, **fields) -> dict:
    task = client.post("/api/tasks", json={"title": "Say hello", "modelId": "openai/fake", **fields}).json()
    r = client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    assert r.status_code == 200, r.text
    return r.json()


def run_task(daemon, client, **fields) -> tuple[dict, list[dict]]:
    """Execute a queued task to its end: the task and its log rows (the stream closes itself)."""
    task = queued(client, **fields)
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task['id']}/logs", timeout=30) as r:
        rows = [event.json() for event in iter_events(r.iter_lines())]
    return daemon.wait_for_status(task["id"], {"completed", "failed"}), rows


def chat(client, conversation_id: str, content: str) -> list[dict]:
    url = f"/api/chat/conversations/{conversation_id}/messages"
    with client.stream("POST", url, json={"content": content}) as r:
        assert r.status_code == 200, r.read()
        return [event.json() for event in iter_events(r.iter_lines())]


def conversation(client) -> str:
    r = client.post("/api/chat/conversations", json={"runtimeId": "openai-direct", "modelId": "openai/fake"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ---- item 3: provider errors are redacted ---------------------------------------------------------

def test_a_provider_error_echoing_secrets_is_stored_and_sent_redacted(daemon, client, provider_key):
    fake = provider_key
    channel = client.post("/api/channels", json={"name": "hook", "channelType": "webhook", "config": {
        "url": "http://127.0.0.1:9/hook", "secret": CHANNEL_SECRET}})
    assert channel.status_code == 201, channel.text
    echo = (f"Incorrect API key provided: {OPENAI_KEY}. Request headers: Authorization: {BEARER}; "
            f"x-api-key: {OPENAI_KEY}; signing secret {CHANNEL_SECRET}; other key sk-ant-api03-otherKEY999")
    secrets = (OPENAI_KEY, CHANNEL_SECRET, BEARER.split()[1], "sk-ant-api03-otherKEY999")

    fake.enqueue_error(401, echo)
    task, rows = run_task(daemon, client)
    assert task["status"] == "failed" and "Incorrect API key provided" in task["result"]
    assert "[REDACTED]" in task["result"]
    assert rows[-1]["event"] == "error" and "[REDACTED]" in rows[-1]["message"]
    notifications = client.get("/api/notifications").text
    assert task["id"] in notifications and "Incorrect API key provided" in notifications

    fake.enqueue_error(401, echo)
    conversation_id = conversation(client)
    events = chat(client, conversation_id, "hello")
    assert events[-1]["type"] == "error" and "[REDACTED]" in events[-1]["message"]
    messages = client.get(f"/api/chat/conversations/{conversation_id}/messages").text
    assert "Incorrect API key provided" in messages

    seen = [json.dumps(task), json.dumps(rows), notifications, json.dumps(events), messages,
            client.get(f"/api/tasks/{task['id']}").text]
    for text in seen:
        for secret in secrets:
            assert secret not in text


# ---- item 7: lone surrogates -----------------------------------------------------------------------

def raw_post(client, path: str, raw: bytes) -> httpx.Response:
    return client.post(path, content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize("path, raw", [
    ("/api/blueprints", b'{"yaml": "id: x\\ud800\\nname: y"}'),
    ("/api/runtimes/ollama", b'{"action": "pull", "model": "\\ud800"}'),
    ("/api/runtimes/ollama", b'{"action": "\\udfff"}'),
    ("/api/workflows", b'{"name": "w", "definition": "{\\"pattern\\": \\"x\\ud800\\"}"}'),
    ("/api/settings/tasks", b'{"defaultModel": "\\ud800"}'),
])
def test_a_lone_surrogate_in_a_body_is_a_clear_400(client, path, raw):
    r = client.request("PUT" if path.startswith("/api/settings") else "POST", path, content=raw,
                       headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "error" in r.json()


def test_a_lone_surrogate_in_a_body_is_stored_as_the_replacement_character(client):
    r = raw_post(client, "/api/tasks", b'{"title": "half \\ud83d a pair", "description": "\\udc00"}')
    assert r.status_code == 201, r.text
    task = client.get(f"/api/tasks/{r.json()['id']}").json()
    assert (task["title"], task["description"]) == ("half \ufffd a pair", "\ufffd")
    r = raw_post(client, "/api/projects", b'{"name": "\\ud800\\ud83d\\ude00"}')  # a real pair stays
    assert r.status_code == 201 and r.json()["name"] == "\ufffd\U0001F600"


def test_a_streamed_lone_surrogate_keeps_the_task_output_and_the_chat_reply(daemon, client, llm_env):
    llm_env.enqueue_text("Good \ud800 and bad")
    task, rows = run_task(daemon, client)
    assert task["status"] == "completed", task["result"]
    assert task["result"] == "Good \ufffd and bad"
    assert "".join(r["message"] for r in rows if r["event"] == "stream") == "Good \ufffd and bad"

    llm_env.enqueue_text("Chat \udc00 reply")
    conversation_id = conversation(client)
    events = chat(client, conversation_id, "hello")
    assert events[-1]["type"] == "done", events
    assert "".join(e["content"] for e in events if e["type"] == "delta") == "Chat \ufffd reply"
    stored = client.get(f"/api/chat/conversations/{conversation_id}/messages").json()
    assert stored[-1]["content"] == "Chat \ufffd reply"
    llm_env.enqueue_text("next")  # no 409: the turn really ended
    assert chat(client, conversation_id, "again")[-1]["type"] == "done"


# ---- item 9: working directories and model ids ----------------------------------------------------

@pytest.mark.parametrize("value, why", [
    ("relative/folder", "is a relative path"),
    ("../etc", "is a relative path"),
    ("/tmp/no\u0000where", "contains a NUL character"),
    ("/no/such/folder/anywhere", "is not an existing folder"),
])
def test_a_working_directory_must_be_an_existing_absolute_folder(client, tmp_path, value, why):
    r = client.post("/api/projects", json={"name": "p", "workingDirectory": value})
    assert r.status_code == 400
    [message] = r.json()["error"]["fieldErrors"]["workingDirectory"]
    assert message.startswith("workingDirectory must be the absolute path of an existing folder") and why in message
    assert client.get("/api/projects").json() == []

    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(tmp_path)}).json()
    assert project["workingDirectory"] == str(tmp_path)
    r = client.patch(f"/api/projects/{project['id']}", json={"workingDirectory": value})
    assert r.status_code == 400 and why in r.json()["error"]["fieldErrors"]["workingDirectory"][0]
    assert client.get(f"/api/projects/{project['id']}").json()["workingDirectory"] == str(tmp_path)


def test_a_file_is_not_a_working_directory_and_null_clears_it(client, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    r = client.post("/api/projects", json={"name": "p", "workingDirectory": str(tmp_path / "file.txt")})
    assert r.status_code == 400 and "not an existing folder" in r.text
    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(tmp_path)}).json()
    r = client.patch(f"/api/projects/{project['id']}", json={"workingDirectory": None})
    assert r.status_code == 200 and r.json()["workingDirectory"] is None


@pytest.mark.parametrize("method, path", [("PUT", "/api/settings/tasks"), ("PUT", "/api/settings/chat")])
@pytest.mark.parametrize("model", ["abc", "open\u0000ai/fake", "anthropic/claude-x", "openai/", "two words"])
def test_a_default_model_must_be_one_a_run_can_use(client, llm_env, method, path, model):
    before = client.get(path).json()
    r = client.request(method, path, json={"defaultModel": model})
    assert r.status_code == 400, r.text
    message = r.json()["error"]
    assert message.startswith("defaultModel must be a model GET /api/chat/models lists")
    assert "haiku" in message and "openai/gpt-4.1" in message  # what a valid value looks like
    assert client.get(path).json() == before
    for good in ("openai/gpt-4o-mini", "gpt-4o-mini", "sonnet", "ollama/llama3.2"):
        assert client.request(method, path, json={"defaultModel": good}).status_code == 200


def test_the_ollama_default_model_must_be_an_ollama_model_name(client):
    for bad in ("two words", "bad\u0000name", "-dash"):
        r = client.post("/api/settings/ollama", json={"defaultModel": bad})
        assert r.status_code == 400 and "Ollama model name" in r.json()["error"]
    assert client.get("/api/settings/ollama").json()["defaultModel"] == ""
    assert client.post("/api/settings/ollama", json={"defaultModel": "llama3:8b"}).json() == {"ok": True}


@pytest.fixture
def stan(daemon):
    with httpx.Client(base_url=daemon.url, headers={"X-API-Key": daemon.api_key}, timeout=30) as client:
        yield client


def test_stan_model_ids_must_be_ones_a_run_can_use(stan, llm_env):
    for bad in ("abc", "model_abc123", "x\u0000y"):
        r = stan.post("/api/v1/stan/sessions", json={"modelId": bad})
        assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
        assert "modelId must be a model GET /api/chat/models lists" in r.json()["error"]
        assert stan.get("/api/v1/stan/sessions/stan-local").status_code == 404
    assert stan.post("/api/v1/stan/sessions", json={"modelId": "openai/fake"}).status_code == 201
    answer = stan.post("/api/v1/stan/message", json={"message": "/model abc"}).json()
    assert "modelId must be a model" in answer["content"]
    assert stan.get("/api/v1/stan/sessions/stan-local").json()["modelId"] == "openai/fake"

    body = {"name": "Audit", "action": "audit_workflows", "schedule": "0 9 * * *"}
    r = stan.post("/api/v1/stan/tasks", json={**body, "modelId": "abc"})
    assert r.status_code == 400 and "modelId" in r.json()["details"]
    assert stan.get("/api/v1/stan/tasks").json() == []
    task = stan.post("/api/v1/stan/tasks", json={**body, "modelId": "openai/fake"}).json()
    r = stan.put(f"/api/v1/stan/tasks/{task['id']}", json={"modelId": "nonsense"})
    assert r.status_code == 400
    assert stan.get(f"/api/v1/stan/tasks/{task['id']}").json()["modelId"] == "openai/fake"


# ---- item 11: conformance -------------------------------------------------------------------------

def test_log_events_carry_event_type_and_message(daemon, client, llm_env):
    llm_env.enqueue_text("Hello there.")
    task, rows = run_task(daemon, client)
    assert task["status"] == "completed"
    for row in rows:
        assert row["eventType"] == row["event"] and isinstance(row["message"], str)
        assert {"id", "taskId", "agentType", "event", "payload", "timestamp"} <= set(row)
    by_event = {row["event"]: row["message"] for row in rows}
    assert by_event["started"] == "Started with openai/fake"
    assert by_event["completed"] == "Completed: Hello there."
    assert by_event["usage"] == "11 input + 7 output tokens (openai/fake)"

    with httpx.stream("GET", f"{daemon.url}/api/logs/stream", params={"taskId": task["id"]}, timeout=30) as r:
        for event in iter_events(r.iter_lines()):
            row = event.json()
            assert row["eventType"] == row["event"] and isinstance(row["message"], str)
            if row["event"] == "completed":
                assert row["message"] == "Completed: Hello there."
                break


def test_stan_tasks_always_name_a_model_and_their_404_says_scheduled_task(stan, llm_env):
    schedule = stan.post("/api/schedules", json={"name": "plain", "interval": "daily at 9am", "prompt": "p"}).json()
    assert schedule["modelId"] is None
    assert stan.get(f"/api/v1/stan/tasks/{schedule['id']}").json()["modelId"] == "openai/fake"
    assert [t["modelId"] for t in stan.get("/api/v1/stan/tasks").json()] == ["openai/fake"]
    for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume")):
        r = stan.request(method, f"/api/v1/stan/tasks/nope{suffix}", json={} if method == "PUT" else None)
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
        assert r.json()["error"].startswith("Scheduled task not found")


def test_a_stan_task_without_a_model_and_without_a_provider_still_names_one(stan):
    schedule = stan.post("/api/schedules", json={"name": "plain", "interval": "hourly", "prompt": "p"}).json()
    model_id = stan.get(f"/api/v1/stan/tasks/{schedule['id']}").json()["modelId"]
    assert isinstance(model_id, str) and model_id


@pytest.mark.parametrize("schedule, code", [("0 9 * *", "INVALID_INTERVAL"), ("every 90 seconds", "INVALID_INTERVAL"),
                                            ("61 9 * * *", "INVALID_CRON")])
def test_an_invalid_stan_schedule_has_the_documented_code(stan, schedule, code):
    r = stan.post("/api/v1/stan/tasks", json={"name": "x", "action": "audit_workflows", "schedule": schedule,
                                              "modelId": "sonnet"})
    assert r.status_code == 400 and r.json()["code"] == code, r.json()


def test_assist_says_which_model_drafted_it(client, llm_env):
    llm_env.enqueue_text("Sure! Here you go, but not as JSON.")
    body = client.post("/api/tasks/assist", json={"title": "Research three vendors"}).json()
    assert "no model was asked" not in body["reasoning"]
    assert body["reasoning"] == "Drafted locally: the answer of openai/fake was not usable JSON."
    llm_env.enqueue_text('{"improvedDescription": "Better", "breakdown": ["a", "b"]}')
    body = client.post("/api/tasks/assist", json={"title": "Research three vendors"}).json()
    assert body["improvedDescription"] == "Better" and body["reasoning"] == "Drafted by openai/fake."

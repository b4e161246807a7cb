"""/api/chat: conversations, history, the SSE reply against the real server, permission answers,
entity search, models and suggested prompts."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import httpx
import pytest

from stagent.engine.chat import chat_tools
from tests.conftest import Daemon
from tests.helpers.processes import assert_stopped_cleanly, daemon_process
from tests.helpers.servers import free_port
from tests.helpers.sse import iter_events


def new_conversation(client, **fields) -> dict:
    r = client.post("/api/chat/conversations", json={"runtimeId": "claude-code", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def answer(daemon, conversation_id: str, request_id: str, behavior: str = "allow", **extra) -> httpx.Response:
    return httpx.post(f"{daemon.url}/api/chat/conversations/{conversation_id}/respond",
                      json={"requestId": request_id, "behavior": behavior, **extra}, timeout=10)


def send(daemon, conversation_id: str, content: str, *, approve: str | None = "allow", comments=None,
         **extra) -> list:
    """POST a message and read the whole SSE reply; permission requests get `approve`."""
    url = f"/api/chat/conversations/{conversation_id}/messages"
    with daemon.client.stream("POST", url, json={"content": content, **extra}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        events = []
        for event in iter_events(r.iter_lines(), comments):
            events.append(event)
            data = event.json()
            if data["type"] == "permission_request" and approve:
                assert answer(daemon, conversation_id, data["requestId"], approve).json() == {"ok": True, "stale": False}
    return events


def types(events) -> list[str]:
    return [e.json()["type"] for e in events]


# ---- conversations ---------------------------------------------------------------------------

def test_create_get_and_list(client):
    project = client.post("/api/projects", json={"name": "Site"}).json()
    conv = new_conversation(client, projectId=project["id"], title="Planning", modelId="sonnet")
    assert conv["status"] == "active" and conv["runtimeId"] == "claude-code"
    assert conv["projectId"] == project["id"] and conv["modelId"] == "sonnet" and conv["title"] == "Planning"
    assert conv["createdAt"].endswith("Z") and conv["mode"] == "chat"
    got = client.get(f"/api/chat/conversations/{conv['id']}").json()
    assert got["messageCount"] == 0 and got["id"] == conv["id"]

    other = new_conversation(client)
    listed = client.get("/api/chat/conversations").json()
    assert [c["id"] for c in listed] == [other["id"], conv["id"]]  # most recently updated first
    client.patch(f"/api/chat/conversations/{conv['id']}", json={"title": "Renamed"})
    assert [c["id"] for c in client.get("/api/chat/conversations").json()] == [conv["id"], other["id"]]
    assert [c["id"] for c in client.get("/api/chat/conversations?limit=1").json()] == [conv["id"]]
    assert [c["id"] for c in client.get(f"/api/chat/conversations?projectId={project['id']}").json()] == [conv["id"]]
    client.patch(f"/api/chat/conversations/{other['id']}", json={"status": "archived"})
    archived = client.get("/api/chat/conversations?status=archived").json()
    assert [c["id"] for c in archived] == [other["id"]]


@pytest.mark.parametrize("body, message", [
    ({}, "runtimeId is required"),
    ({"runtimeId": ""}, "runtimeId is required"),
    ({"runtimeId": "gpt-robot"}, "Invalid runtimeId"),
    ({"runtimeId": "claude-code", "projectId": "no-such-project"}, "Project not found"),
])
def test_create_rejects_bad_bodies(client, body, message):
    r = client.post("/api/chat/conversations", json=body)
    assert r.status_code == 400 and r.json()["error"].startswith(message)
    assert client.get("/api/chat/conversations").json() == []


def test_create_validation_and_malformed_json_use_the_flatten_shape(client):
    r = client.post("/api/chat/conversations", json={"runtimeId": "claude-code", "title": 7})
    assert r.status_code == 400 and "title" in r.json()["error"]["fieldErrors"]
    r = client.post("/api/chat/conversations", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["formErrors"]


@pytest.mark.parametrize("query", ["status=deleted", "limit=0", "limit=abc"])
def test_list_rejects_bad_queries(client, query):
    assert client.get(f"/api/chat/conversations?{query}").status_code == 400


def test_get_update_delete_unknown_conversation_is_404(client):
    for method in ("GET", "PATCH", "DELETE"):
        r = client.request(method, "/api/chat/conversations/nope", json={} if method == "PATCH" else None)
        assert r.status_code == 404 and r.json() == {"error": "Conversation not found"}
    assert client.get("/api/chat/conversations/nope/messages").status_code == 404


def test_update(client):
    conv = new_conversation(client)
    r = client.patch(f"/api/chat/conversations/{conv['id']}",
                     json={"title": "T", "status": "archived", "modelId": "gpt-5.4", "runtimeId": "openai-direct"})
    assert r.status_code == 200
    body = r.json()
    assert (body["title"], body["status"], body["modelId"], body["runtimeId"]) == \
        ("T", "archived", "gpt-5.4", "openai-direct")
    for bad in ({"status": "deleted"}, {"runtimeId": "robot"}, {"status": None}, {"title": 5}):
        assert client.patch(f"/api/chat/conversations/{conv['id']}", json=bad).status_code == 400
    assert client.get(f"/api/chat/conversations/{conv['id']}").json()["status"] == "archived"  # unchanged


def test_delete_removes_messages(daemon, client, llm_env):
    conv = new_conversation(client)
    send(daemon, conv["id"], "hello")
    r = client.delete(f"/api/chat/conversations/{conv['id']}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api/chat/conversations/{conv['id']}").status_code == 404
    with sqlite3.connect(daemon.app.state.db.path) as db:  # the rows are gone, not just hidden
        assert db.execute("SELECT COUNT(*) FROM chat_messages").fetchone()[0] == 0


# ---- the streamed reply ------------------------------------------------------------------------

def test_reply_streams_deltas_then_done_with_increasing_ids(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_text("Hello from the fake model, streamed in pieces.")
    events = send(daemon, conv["id"], "Say hello")
    kinds = types(events)
    assert kinds[0] == "status" and kinds[-1] == "done" and kinds.count("done") == 1
    assert "".join(e.json()["content"] for e in events if e.json()["type"] == "delta") == \
        "Hello from the fake model, streamed in pieces."
    ids = [int(e.id) for e in events]
    assert all(e.id is not None for e in events) and ids == sorted(ids) and len(set(ids)) == len(ids)
    done = events[-1].json()
    messages = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Say hello"), ("assistant", "Hello from the fake model, streamed in pieces.")]
    assert messages[1]["id"] == done["messageId"] and messages[1]["status"] == "complete"
    assert json.loads(messages[1]["metadata"])["model"] == "openai/fake"
    assert client.get(f"/api/chat/conversations/{conv['id']}").json()["title"] == "Say hello"

    later = send(daemon, conv["id"], "Again")  # the next turn's ids continue upward
    assert int(later[0].id) > ids[-1]


def test_multi_turn_tool_calls_change_real_state(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "Launch"}).json()
    conv = new_conversation(client, projectId=project["id"])
    llm_env.enqueue_tool_call("create_task", {"title": "Draft the press release", "priority": 1})
    llm_env.enqueue_text("I created the task Draft the press release.")
    events = send(daemon, conv["id"], "Add a task to draft the press release")
    kinds = types(events)
    assert kinds.index("tool_call") < kinds.index("permission_request") < kinds.index("tool_result")
    tasks = client.get(f"/api/tasks?projectId={project['id']}").json()
    assert [(t["title"], t["priority"], t["status"]) for t in tasks] == [("Draft the press release", 1, "planned")]
    done = events[-1].json()
    assert {"entityType": "task", "entityId": tasks[0]["id"], "label": "Draft the press release",
            "href": f"/tasks/{tasks[0]['id']}"} in done["quickAccess"]
    request = next(e.json() for e in events if e.json()["type"] == "permission_request")
    assert request["toolName"] == "create_task" and request["messageId"] == done["messageId"]
    assert request["toolInput"] == {"title": "Draft the press release", "priority": 1}

    # Second turn: the model sees the whole first turn, tool call and result included.
    llm_env.enqueue_tool_call("list_tasks", {"projectId": project["id"]})
    llm_env.enqueue_text("There is one task.")
    send(daemon, conv["id"], "How many tasks are there?")
    sent = llm_env.requests[-1]["messages"]
    roles = [m["role"] for m in sent]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool"]
    assert "Draft the press release" in sent[3]["content"] and tasks[0]["id"] in sent[7]["content"]
    visible = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
    assert [m["role"] for m in visible] == ["user", "assistant", "user", "assistant"]
    steps = client.get(f"/api/chat/conversations/{conv['id']}/messages?includeSteps=true").json()
    assert [m["role"] for m in steps] == ["user", "assistant", "tool", "assistant",
                                         "user", "assistant", "tool", "assistant"]
    assert client.get(f"/api/chat/conversations/{conv['id']}").json()["messageCount"] == 4


def test_denied_tool_call_changes_nothing(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_tool_call("create_project", {"name": "Secret"})
    llm_env.enqueue_text("I was not allowed to create it.")
    events = send(daemon, conv["id"], "Create a project called Secret", approve="deny")
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert result["result"].startswith("Permission denied: User denied this action")
    assert client.get("/api/projects").json() == []
    assert types(events)[-1] == "done"


def test_mentions_put_the_entity_into_the_prompt(daemon, client, llm_env):
    task = client.post("/api/tasks", json={"title": "Quarterly numbers", "description": "Revenue was 42k"}).json()
    conv = new_conversation(client)
    send(daemon, conv["id"], "What about this?",
         mentions=[{"entityType": "task", "entityId": task["id"], "label": "Quarterly numbers"}])
    system = llm_env.requests[-1]["messages"][0]["content"]
    assert "Quarterly numbers" in system and "Revenue was 42k" in system


def test_provider_error_ends_the_stream_with_an_error_event(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_error(400, "model does not exist")
    events = send(daemon, conv["id"], "hi")
    assert types(events)[-1] == "error" and "model does not exist" in events[-1].json()["message"]
    messages = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "error")]
    llm_env.enqueue_text("fine now")
    assert types(send(daemon, conv["id"], "retry"))[-1] == "done"
    sent = [m["role"] for m in llm_env.requests[-1]["messages"]]
    assert sent == ["system", "user", "user"]  # the failed reply is not replayed


def test_an_edited_tool_input_is_what_runs_and_what_is_recorded(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_tool_call("create_project", {"name": "Draft name"})
    llm_env.enqueue_text("Created it.")
    url = f"/api/chat/conversations/{conv['id']}/messages"
    with client.stream("POST", url, json={"content": "Make a project"}) as r:
        events = []
        for event in iter_events(r.iter_lines()):
            events.append(event.json())
            if events[-1]["type"] == "permission_request":
                assert answer(daemon, conv["id"], events[-1]["requestId"],
                              updatedInput={"name": "Final name"}).json() == {"ok": True, "stale": False}
    assert [p["name"] for p in client.get("/api/projects").json()] == ["Final name"]
    result = next(e for e in events if e["type"] == "tool_result")["result"]
    assert result.startswith("(The user changed this call's input before it ran") and "Final name" in result
    reply = client.get(url).json()[-1]
    (call,) = json.loads(reply["metadata"])["toolCalls"]
    assert call["arguments"] == {"name": "Final name"}  # what ran, not what the model asked for
    steps = client.get(f"{url}?includeSteps=true").json()
    assert "Final name" in next(m for m in steps if m["role"] == "tool")["content"]
    assert "Final name" in llm_env.requests[-1]["messages"][-1]["content"]  # the model was told


def test_a_failed_compaction_ends_the_stream_with_an_error_and_ids_keep_increasing(daemon, client, llm_env):
    conv = new_conversation(client)
    for i in range(6):
        send(daemon, conv["id"], f"Question {i} with a little padding to count")
    engine = daemon.app.state.conversations
    stats = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
    assert len(stats) == 12
    engine.context_window = 50  # every turn now starts by compacting
    llm_env.enqueue_error(400, "summariser unavailable")
    failed = send(daemon, conv["id"], "next")
    assert types(failed) == ["status", "error"]
    assert failed[0].json()["phase"] == "compacting" and "summariser unavailable" in failed[-1].json()["message"]
    history = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
    assert [(m["role"], m["status"]) for m in history[-2:]] == [("user", "complete"), ("assistant", "error")]

    llm_env.enqueue_text("SUMMARY")
    llm_env.enqueue_text("back on track")
    later = send(daemon, conv["id"], "again")
    assert types(later)[-1] == "done" and int(later[0].id) > int(failed[-1].id)


def test_a_second_message_while_a_reply_waits_is_409_and_not_queued(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_tool_call("create_project", {"name": "Pending"})
    llm_env.enqueue_text("Created Pending.")
    url = f"/api/chat/conversations/{conv['id']}/messages"
    with client.stream("POST", url, json={"content": "Create Pending"}) as r:
        events = iter_events(r.iter_lines())
        request = next(e.json() for e in events if e.json()["type"] == "permission_request")
        second = httpx.post(f"{daemon.url}{url}", json={"content": "And another"}, timeout=10)
        assert second.status_code == 409 and second.headers["content-type"].startswith("application/json")
        assert "reply is in progress" in second.json()["error"]
        answer(daemon, conv["id"], request["requestId"])
        assert [e.json()["type"] for e in events][-1] == "done"
    history = client.get(url).json()
    assert [m["content"] for m in history] == ["Create Pending", "Created Pending."]  # the 409 left no trace
    llm_env.enqueue_text("Now it is my turn.")
    assert types(send(daemon, conv["id"], "And another"))[-1] == "done"  # once the reply is done


@pytest.mark.parametrize("body", [{}, {"content": ""}, {"content": "   "}, {"content": 5},
                                  {"content": "x", "mentions": "task"}])
def test_send_rejects_bad_bodies_as_json(daemon, client, llm_env, body):
    conv = new_conversation(client)
    r = client.post(f"/api/chat/conversations/{conv['id']}/messages", json=body)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert "fieldErrors" in r.json()["error"]
    assert client.get(f"/api/chat/conversations/{conv['id']}/messages").json() == []


def test_send_to_unknown_conversation_is_404_json(client, llm_env):
    r = client.post("/api/chat/conversations/nope/messages", json={"content": "hi"})
    assert r.status_code == 404 and r.json() == {"error": "Conversation not found"}


def test_send_without_a_provider_is_400_json_and_stores_nothing(client):
    conv = new_conversation(client)
    r = client.post(f"/api/chat/conversations/{conv['id']}/messages", json={"content": "hi"})
    assert r.status_code == 400 and "No LLM provider is configured" in r.json()["error"]
    assert client.get(f"/api/chat/conversations/{conv['id']}/messages").json() == []


def test_send_over_budget_is_429_json(daemon, client, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    monkeypatch.setenv("OPENAI_API_BASE", fake.base_url)
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")  # a priced model
    r = client.post("/api/settings/budgets", json={"overall": {"monthlySpendCapUsd": 0.001, "dailySpendCapUsd": 0.001}})
    assert r.status_code == 200, r.text
    conv = new_conversation(client)
    r = client.post(f"/api/chat/conversations/{conv['id']}/messages", json={"content": "hi " * 50})
    assert r.status_code == 429 and "budget" in r.json()["error"]
    assert client.get(f"/api/chat/conversations/{conv['id']}/messages").json() == []
    assert fake.requests == []


def test_keepalive_comments_while_the_model_is_slow(tmp_path, llm_env):
    daemon = Daemon(tmp_path / "slow", sse_keepalive_seconds=0.1)
    try:
        conv = new_conversation(daemon.client)
        llm_env.enqueue_text("late", delay=1.0)
        comments: list[str] = []
        events = send(daemon, conv["id"], "hi", comments=comments)
        assert "keepalive" in comments and types(events)[-1] == "done"
    finally:
        daemon.stop()


def test_a_client_that_leaves_does_not_lose_the_reply(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_text("a long and slow answer " * 4, chunk_delay=0.05)
    with client.stream("POST", f"/api/chat/conversations/{conv['id']}/messages", json={"content": "go"}) as r:
        for event in iter_events(r.iter_lines()):
            if event.json()["type"] == "delta":
                break  # hang up mid-reply
    deadline = time.monotonic() + 20
    while True:
        messages = client.get(f"/api/chat/conversations/{conv['id']}/messages").json()
        if len(messages) == 2:
            break
        assert time.monotonic() < deadline, messages
        time.sleep(0.05)
    assert messages[1]["content"] == "a long and slow answer " * 4


@pytest.mark.serial
def test_sigterm_ends_the_stream_with_an_error_and_keeps_the_partial_reply(tmp_path, fake):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake) as proc:
        conv = httpx.post(f"{base}/api/chat/conversations", json={"runtimeId": "claude-code"}).json()
        fake.enqueue_hang("partial", chunk_delay=0.05)
        with httpx.stream("POST", f"{base}/api/chat/conversations/{conv['id']}/messages",
                          json={"content": "go on forever"}, timeout=60) as r:
            events = (e.json() for e in iter_events(r.iter_lines()))
            next(e for e in events if e["type"] == "delta")
            proc.send_signal(signal.SIGTERM)
            rest = list(events)  # the daemon ends the stream, not a cut
        assert_stopped_cleanly(proc)
        assert rest[-1]["type"] == "error" and "interrupted" in rest[-1]["message"]
    with sqlite3.connect(data_dir / "stagent.db") as db:
        rows = db.execute("SELECT role, status, content FROM chat_messages ORDER BY seq").fetchall()
    assert [(role, status) for role, status, _ in rows] == [("user", "complete"), ("assistant", "error")]
    assert rows[1][2].startswith("partial")


# ---- history ---------------------------------------------------------------------------------

def test_messages_after_cursor_and_limit(daemon, client, llm_env):
    conv = new_conversation(client)
    for text in ("one", "two"):
        send(daemon, conv["id"], text)
    url = f"/api/chat/conversations/{conv['id']}/messages"
    everything = client.get(url).json()
    assert [m["content"] for m in everything][::2] == ["one", "two"]
    after = client.get(f"{url}?after={everything[1]['id']}").json()
    assert [m["id"] for m in after] == [m["id"] for m in everything[2:]]
    assert [m["id"] for m in client.get(f"{url}?limit=1").json()] == [everything[0]["id"]]
    assert client.get(f"{url}?after=nope").status_code == 400
    assert client.get(f"{url}?limit=0").status_code == 400


# ---- respond -----------------------------------------------------------------------------------

def test_respond_errors(daemon, client):
    conv = new_conversation(client)
    url = f"/api/chat/conversations/{conv['id']}/respond"
    assert client.post("/api/chat/conversations/nope/respond",
                       json={"requestId": "x", "behavior": "allow"}).status_code == 404
    r = client.post(url, json={"behavior": "allow"})
    assert r.status_code == 400 and r.json() == {"error": "requestId is required"}
    assert client.post(url, json={"requestId": "x", "behavior": "maybe"}).status_code == 400
    r = client.post(url, json={"requestId": "x", "behavior": "allow"})  # unknown: stale, as the catalog
    assert r.status_code == 200 and r.json() == {"ok": True, "stale": True}


def test_respond_twice_is_stale(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_tool_call("create_project", {"name": "Twice"})
    llm_env.enqueue_text("done")
    seen = []
    url = f"/api/chat/conversations/{conv['id']}/messages"
    with client.stream("POST", url, json={"content": "make it"}) as r:
        for event in iter_events(r.iter_lines()):
            data = event.json()
            if data["type"] == "permission_request":
                seen.append(answer(daemon, conv["id"], data["requestId"]).json())
                seen.append(answer(daemon, conv["id"], data["requestId"], "deny").json())
    assert seen == [{"ok": True, "stale": False}, {"ok": True, "stale": True}]
    assert [p["name"] for p in client.get("/api/projects").json()] == ["Twice"]


# ---- entities, models, prompts -----------------------------------------------------------------

def test_entity_search(client):
    project = client.post("/api/projects", json={"name": "Garden plan", "description": "Tomatoes"}).json()
    task = client.post("/api/tasks", json={"title": "Plant the garden", "projectId": project["id"]}).json()
    client.post("/api/tasks", json={"title": "Unrelated"})
    found = client.get("/api/chat/entities/search?q=garden").json()["results"]
    assert {(r["entityType"], r["entityId"]) for r in found} == {("project", project["id"]), ("task", task["id"])}
    assert next(r for r in found if r["entityType"] == "project")["description"] == "Tomatoes"
    assert next(r for r in found if r["entityType"] == "task")["status"] == "planned"
    recent = client.get("/api/chat/entities/search").json()["results"]
    assert len(recent) == 3
    assert len(client.get("/api/chat/entities/search?limit=1").json()["results"]) == 1
    assert client.get("/api/chat/entities/search?q=100%25").json() == {"results": []}  # % is literal
    assert client.get("/api/chat/entities/search?limit=0").status_code == 400


def test_models_and_suggested_prompts(client, llm_env):
    models = client.get("/api/chat/models").json()
    ids = [m["id"] for m in models]
    assert ids[:6] == ["haiku", "sonnet", "opus", "gpt-5.4-mini", "gpt-5.3-codex", "gpt-5.4"]
    assert "openai/fake" in ids  # the configured default model
    assert all({"id", "label", "provider", "tier", "costLabel"} <= set(m) for m in models)
    prompts = client.get("/api/chat/suggested-prompts").json()
    assert prompts and all({"id", "label", "icon", "prompts"} <= set(p) for p in prompts)
    assert all({"label", "prompt"} <= set(q) for p in prompts for q in p["prompts"])


def test_chat_tools_have_unique_names():
    names = [t.name for t in chat_tools.CHAT_TOOLS]
    assert len(names) == len(set(names)) and "create_task" in names and "execute_task" in names


def test_models_list_what_the_configured_server_serves(client, fake):
    client.post("/api/settings/openai", json={"baseUrl": fake.base_url})  # an OpenAI-compatible server, no key
    models = {m["id"]: m for m in client.get("/api/chat/models").json()}
    served = models["openai/fake"]  # from the fake's GET /v1/models
    assert served["source"] == "served" and served["available"] is True and served["label"] == "fake"
    assert served["default"] is False or served["id"] == next(m for m in models.values() if m["default"])["id"]
    assert models["haiku"]["available"] is False  # no Anthropic key: greyed in pickers
    assert models["gpt-5.4"]["available"] is False  # OpenAI's own models are not on a compatible server
    assert sum(m["default"] for m in models.values()) == 1  # the daemon's default on a configured provider
    assert next(m for m in models.values() if m["default"])["provider"] == "openai"

    answer = client.post("/api/settings/test", json={"runtime": "openai-direct", "model": "openai/fake"}).json()
    assert answer["connected"] is True and answer["model"] == "openai/fake"
    assert fake.requests[-1]["model"] == "fake"
    bad = client.post("/api/settings/test", json={"runtime": "openai-direct", "model": "bedrock/x y"})
    assert bad.status_code == 400 and "model" in bad.text


def test_models_without_any_provider_mark_none_default_or_available(client):
    models = client.get("/api/chat/models").json()
    assert not any(m["default"] for m in models)
    assert not any(m["available"] for m in models if m["provider"] in ("anthropic", "openai"))

"""/api/v1/stan: personality, skills, context, compaction, conversations and resume."""

from __future__ import annotations

import sqlite3
import uuid

import httpx
import pytest

from stagent.engine.chat.conversation import PERSONALITIES
from tests.api.test_stan_sessions import SESSION, SESSIONS, error_of

BASE = "/api/v1/stan"
LONG = "Please remember this detail about the onboarding flow. " * 40


@pytest.fixture
def stan(daemon):
    """A client carrying the daemon's full-scope key."""
    with httpx.Client(base_url=daemon.url, headers={"X-API-Key": daemon.api_key}, timeout=30) as client:
        yield client


def insert_conversation(daemon, *, messages: int = 0, mode: str = "workflows", model: str = "openai/fake",
                        title: str = "Old chat") -> str:
    """A past conversation written straight into the database (what a long history looks like)."""
    conversation_id = str(uuid.uuid4())
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO conversations (id, title, model_id, mode, owner, created_at, updated_at) "
                     "VALUES (?,?,?,?,'local','2026-01-01T00:00:00.000Z','2026-01-01T00:00:00.000Z')",
                     (conversation_id, title, model, mode))
        for i in range(messages):
            conn.execute("INSERT INTO chat_messages (id, conversation_id, role, content, token_count, created_at) "
                         "VALUES (?,?,?,?,5,'2026-01-01T00:00:00.000Z')",
                         (str(uuid.uuid4()), conversation_id, "user" if i % 2 == 0 else "assistant", f"message {i}"))
    return conversation_id


# ---- auth ----------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/personality", None), ("PUT", "/personality", {"personality": "friendly"}),
    ("GET", "/skills", None), ("POST", "/skills", {"name": "x", "instructions": "y"}),
    ("GET", "/skills/s1", None), ("PATCH", "/skills/s1", {"active": False}), ("DELETE", "/skills/s1", None),
    ("GET", "/context", None), ("POST", "/compact", None),
    ("GET", "/conversations", None), ("GET", "/conversations/c1", None), ("POST", "/conversations/c1/resume", None),
]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_needs_a_key_with_the_stan_scope(daemon, stan, method, path, body):
    error_of(daemon.client.request(method, BASE + path, json=body), 401, "UNAUTHORIZED")
    limited = stan.post("/api/keys", json={"name": "w", "scopes": ["stagent:write"]}).json()["key"]
    error_of(daemon.client.request(method, BASE + path, json=body, headers={"X-API-Key": limited}),
             403, "INSUFFICIENT_SCOPE")
    assert stan.get(BASE + "/personality").json() == {"personality": "professional"}
    assert stan.get(BASE + "/skills").json()["user"] == []


# ---- personality -----------------------------------------------------------------------------

def test_personality_defaults_to_professional_and_can_be_set(stan):
    assert stan.get(BASE + "/personality").json() == {"personality": "professional"}
    for value in ("friendly", "concise", "professional", "concise"):
        response = stan.put(BASE + "/personality", json={"personality": value})
        assert response.status_code == 200 and response.json() == {"personality": value}
    assert stan.get(BASE + "/personality").json() == {"personality": "concise"}


@pytest.mark.parametrize("body", [{"personality": "grumpy"}, {"personality": "Friendly"}, {"personality": 1},
                                  {"personality": None}, {}])
def test_other_personalities_are_400_and_change_nothing(stan, body):
    stan.put(BASE + "/personality", json={"personality": "friendly"})
    assert "personality" in error_of(stan.put(BASE + "/personality", json=body), 400, "VALIDATION_ERROR")
    assert stan.get(BASE + "/personality").json() == {"personality": "friendly"}


def test_the_personality_shapes_the_system_prompt(stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    stan.put(BASE + "/personality", json={"personality": "concise"})  # also the live session's
    stan.post(SESSION + "/messages", json={"message": "Hi"})
    system = llm_env.requests[0]["messages"][0]["content"]
    assert PERSONALITIES["concise"] in system and PERSONALITIES["professional"] not in system


# ---- skills ----------------------------------------------------------------------------------

def test_skills_list_the_built_in_ones(stan):
    body = stan.get(BASE + "/skills").json()
    assert body["user"] == []
    builder = next(s for s in body["system"] if s["name"] == "workflow-builder")
    assert builder["category"] == "build" and builder["description"] == "Build and edit workflows conversationally."
    assert len({s["category"] for s in body["system"]}) >= 3  # one per tool family


def test_user_skills_can_be_created_edited_and_deleted(stan):
    created = stan.post(BASE + "/skills", json={"name": "my-custom-skill", "description": "A user-authored skill.",
                                                "instructions": "Always answer in haiku."})
    assert created.status_code == 201
    skill = created.json()
    assert {k: skill[k] for k in ("name", "category", "description", "instructions", "active")} == {
        "name": "my-custom-skill", "category": "custom", "description": "A user-authored skill.",
        "instructions": "Always answer in haiku.", "active": True}
    listed = stan.get(BASE + "/skills").json()["user"]
    assert [s["id"] for s in listed] == [skill["id"]] and listed[0]["description"] == "A user-authored skill."
    assert stan.get(f"{BASE}/skills/{skill['id']}").json() == skill

    updated = stan.patch(f"{BASE}/skills/{skill['id']}", json={"active": False, "category": "writing"})
    assert updated.status_code == 200 and updated.json()["active"] is False and updated.json()["category"] == "writing"
    deleted = stan.delete(f"{BASE}/skills/{skill['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True}
    assert stan.get(BASE + "/skills").json()["user"] == []
    for response in (stan.get(f"{BASE}/skills/{skill['id']}"), stan.delete(f"{BASE}/skills/{skill['id']}"),
                     stan.patch(f"{BASE}/skills/{skill['id']}", json={"active": True})):
        error_of(response, 404, "NOT_FOUND")


def test_skill_names_are_unique(stan):
    first = stan.post(BASE + "/skills", json={"name": "a", "instructions": "x"}).json()
    stan.post(BASE + "/skills", json={"name": "b", "instructions": "x"})
    error_of(stan.post(BASE + "/skills", json={"name": "a", "instructions": "y"}), 409, "SKILL_EXISTS")
    error_of(stan.post(BASE + "/skills", json={"name": "workflow-builder", "instructions": "y"}), 409, "SKILL_EXISTS")
    error_of(stan.patch(f"{BASE}/skills/{first['id']}", json={"name": "b"}), 409, "SKILL_EXISTS")
    assert [s["name"] for s in stan.get(BASE + "/skills").json()["user"]] == ["a", "b"]


@pytest.mark.parametrize("body", [{}, {"name": "x"}, {"instructions": "x"}, {"name": "two words", "instructions": "x"},
                                  {"name": "x", "instructions": ""}, {"name": "x", "instructions": "y", "active": "no"}])
def test_bad_skill_bodies_are_400_and_create_nothing(stan, body):
    error_of(stan.post(BASE + "/skills", json=body), 400, "VALIDATION_ERROR")
    assert stan.get(BASE + "/skills").json()["user"] == []


def test_an_active_user_skill_joins_the_system_prompt(stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    skill = stan.post(BASE + "/skills", json={"name": "haiku", "instructions": "Always answer in haiku."}).json()
    stan.post(SESSION + "/messages", json={"message": "Hi"})
    assert "Always answer in haiku." in llm_env.requests[-1]["messages"][0]["content"]
    stan.patch(f"{BASE}/skills/{skill['id']}", json={"active": False})
    stan.post(SESSION + "/messages", json={"message": "Hi again"})
    assert "Always answer in haiku." not in llm_env.requests[-1]["messages"][0]["content"]


# ---- context and compaction ----------------------------------------------------------------------

def test_context_without_a_session(stan):
    response = stan.get(BASE + "/context")
    assert response.status_code == 200 and response.json() == {"active": False, "message": "No active session"}


def test_context_of_the_active_session(stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    empty = stan.get(BASE + "/context").json()
    stan.post(SESSION + "/messages", json={"message": LONG})
    stats = stan.get(BASE + "/context").json()
    assert set(stats) == {"active", "totalTokens", "availableTokens", "maxTokens", "usagePercentage", "needsCompaction"}
    assert stats["active"] is True and stats["needsCompaction"] is False
    assert stats["totalTokens"] > empty["totalTokens"] > 0
    assert stats["totalTokens"] + stats["availableTokens"] == stats["maxTokens"]
    assert isinstance(stats["usagePercentage"], int)


def test_compact_without_a_session_is_409(stan, fake):
    message = error_of(stan.post(BASE + "/compact"), 409, "NO_ACTIVE_SESSION")
    assert "active" in message and "session" in message
    assert fake.requests == []


def test_compact_with_nothing_to_summarise(stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    stan.post(SESSION + "/messages", json={"message": "Hi"})
    llm_env.requests.clear()
    body = stan.post(BASE + "/compact").json()
    assert (body["compacted"], body["messagesCompacted"]) == (False, 0)
    assert llm_env.requests == []


def test_compaction_through_the_stan_route(daemon, stan, llm_env):
    fake = llm_env
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    conversation_id = stan.get(SESSION).json()["conversationId"]
    for i in range(7):
        fake.enqueue_text(f"Noted, detail {i}. " + ("Long answer. " * 60 if i < 2 else ""))
        stan.post(SESSION + "/messages", json={"message": (LONG if i < 2 else f"Short {i}")})
    before = stan.get(BASE + "/context").json()["totalTokens"]

    fake.requests.clear()
    fake.enqueue_text("SUMMARY: the user described the onboarding flow twice.")
    response = stan.post(BASE + "/compact")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["compacted"] is True and body["messagesCompacted"] == 4  # the two long exchanges
    assert "Summarise this conversation" in fake.requests[0]["messages"][-1]["content"]
    after = stan.get(BASE + "/context").json()["totalTokens"]
    assert after < before

    fake.enqueue_text("Still here.")
    stan.post(SESSION + "/messages", json={"message": "What did I describe?"})
    sent = fake.requests[-1]["messages"]
    assert "SUMMARY: the user described the onboarding flow twice." in sent[0]["content"]
    assert LONG not in [m.get("content") for m in sent]
    history = stan.get(f"{BASE}/conversations/{conversation_id}").json()["messages"]
    assert len(history) == 16 and history[0]["content"] == LONG  # nothing was deleted


# ---- conversations ---------------------------------------------------------------------------------

def test_conversations_are_listed_newest_first_20_by_default(stan):
    for i in range(22):
        stan.post(SESSIONS, json={"modelId": f"ollama/model-{i}"})
    listed = stan.get(BASE + "/conversations")
    assert listed.status_code == 200
    rows = listed.json()
    assert len(rows) == 20 and rows[0]["modelId"] == "ollama/model-21"
    assert set(rows[0]) >= {"id", "title", "mode", "modelId", "modelName", "messageCount", "createdAt", "updatedAt"}
    assert rows[0]["mode"] == "workflows" and rows[0]["messageCount"] == 0
    assert [r["modelId"] for r in stan.get(BASE + "/conversations?limit=3").json()] == [
        "ollama/model-21", "ollama/model-20", "ollama/model-19"]


@pytest.mark.parametrize("limit", ["0", "-1", "101", "abc", "2.5"])
def test_bad_limits_are_400(stan, limit):
    assert "limit" in error_of(stan.get(BASE + f"/conversations?limit={limit}"), 400, "VALIDATION_ERROR")


def test_get_a_conversation_with_its_messages(daemon, stan, llm_env):
    llm_env.enqueue_text("Done — added webhook-trigger node.")
    stan.post("/api/v1/stan/message", json={"message": "Add a webhook trigger"})
    conversation_id = stan.get(SESSION).json()["conversationId"]
    body = stan.get(f"{BASE}/conversations/{conversation_id}").json()
    assert body["id"] == conversation_id and body["title"] == "Add a webhook trigger"
    assert body["mode"] == "workflows" and body["modelId"] == "openai/fake" and body["messageCount"] == 2
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Add a webhook trigger"), ("assistant", "Done — added webhook-trigger node.")]
    error_of(stan.get(f"{BASE}/conversations/nope"), 404, "NOT_FOUND")


def test_resume_restores_model_and_mode(daemon, stan):
    stan.post(SESSIONS, json={"modelId": "ollama/current-model"})
    old = insert_conversation(daemon, messages=4, mode="chat", model="anthropic/claude-sonnet-4-5",
                              title="Webhook trigger setup")
    response = stan.post(f"{BASE}/conversations/{old}/resume")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("resumed", "title", "mode", "modelName", "messageCount")} == {
        "resumed": True, "title": "Webhook trigger setup", "mode": "chat", "modelName": "Claude Sonnet",
        "messageCount": 4}
    session = stan.get(SESSION).json()
    assert (session["conversationId"], session["modelId"], session["mode"]) == (
        old, "anthropic/claude-sonnet-4-5", "chat")
    error_of(stan.post(f"{BASE}/conversations/nope/resume"), 404, "NOT_FOUND")
    assert stan.get(SESSION).json()["conversationId"] == old


def test_resume_reloads_at_most_the_last_50_messages(daemon, stan, llm_env):
    old = insert_conversation(daemon, messages=60)
    body = stan.post(f"{BASE}/conversations/{old}/resume").json()
    assert body["messageCount"] == 60 and body["messagesReloaded"] == 50

    llm_env.enqueue_text("Back again.")
    stan.post(SESSION + "/messages", json={"message": "Where were we?"})
    sent = llm_env.requests[0]["messages"]
    history = [m["content"] for m in sent[1:-1]]
    assert history == [f"message {i}" for i in range(10, 60)]
    assert sent[-1]["content"] == "Where were we?"
    assert len(stan.get(f"{BASE}/conversations/{old}").json()["messages"]) == 62  # history keeps everything


def test_resume_keeps_the_summary_of_the_conversation(daemon, stan, llm_env):
    old = insert_conversation(daemon, messages=60)
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE conversations SET summary = 'EARLIER: the user planned a launch.' WHERE id = ?", (old,))
    assert stan.post(f"{BASE}/conversations/{old}/resume").json()["messagesReloaded"] == 50
    llm_env.enqueue_text("Yes, the launch.")
    stan.post(SESSION + "/messages", json={"message": "Remember?"})
    assert "EARLIER: the user planned a launch." in llm_env.requests[0]["messages"][0]["content"]


def test_resume_without_a_session_starts_one(daemon, stan):
    old = insert_conversation(daemon, messages=2)
    assert stan.post(f"{BASE}/conversations/{old}/resume").json()["messagesReloaded"] == 2
    assert stan.get(SESSION).json()["conversationId"] == old

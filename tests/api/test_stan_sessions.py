"""/api/v1/stan/sessions and /api/v1/stan/message: sessions, Stan building real workflows, slash commands."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import time

import httpx
import pytest

from stagent.engine.chat import slash
from stagent.engine.stan.session import Stan
from stagent.engine.stan.tools import STAN_TOOLS
from tests.helpers.scheduling import wait_until

SESSIONS = "/api/v1/stan/sessions"
SESSION = "/api/v1/stan/sessions/stan-local"
MESSAGE = "/api/v1/stan/message"


@pytest.fixture
def stan(daemon):
    """A client carrying the daemon's full-scope key."""
    with httpx.Client(base_url=daemon.url, headers={"X-API-Key": daemon.api_key}, timeout=30) as client:
        yield client


def db_rows(daemon, sql: str, params=()) -> list[sqlite3.Row]:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def workflow(daemon, workflow_id: str) -> dict:
    (row,) = db_rows(daemon, "SELECT * FROM workflows WHERE id = ?", (workflow_id,))
    return {**dict(row), "definition": json.loads(row["definition"])}


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["error"]
    return body["error"]


# ---- auth ----------------------------------------------------------------------------------

ROUTES = [
    ("POST", SESSIONS, {"modelId": "openai/fake"}),
    ("GET", SESSION, None),
    ("DELETE", SESSION, None),
    ("POST", SESSION + "/messages", {"message": "hi"}),
    ("POST", MESSAGE, {"message": "/help"}),
]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_needs_a_key_with_the_stan_scope(daemon, stan, method, path, body):
    error_of(daemon.client.request(method, path, json=body), 401, "UNAUTHORIZED")
    limited = stan.post("/api/keys", json={"name": "reader", "scopes": ["stagent:read"]}).json()["key"]
    denied = daemon.client.request(method, path, json=body, headers={"X-API-Key": limited})
    assert "stan:execute" in error_of(denied, 403, "INSUFFICIENT_SCOPE")
    assert stan.get(SESSION).status_code == 404  # the refused requests started nothing


# ---- sessions --------------------------------------------------------------------------------

def test_create_get_and_end_a_session(daemon, stan):
    created = stan.post(SESSIONS, json={"modelId": "openai/gpt-5.4"})
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("sessionId", "mode", "modelId", "modelName", "activeWorkflowId",
                                 "activeWorkflowName", "messageCount", "workflowId")} == {
        "sessionId": "stan-local", "mode": "workflows", "modelId": "openai/gpt-5.4", "modelName": "GPT-5.4",
        "activeWorkflowId": None, "activeWorkflowName": None, "messageCount": 0, "workflowId": None}
    assert stan.get(SESSION).json() == body

    ended = stan.delete(SESSION)
    assert ended.status_code == 200
    assert ended.json() == {"ended": True, "workflowId": None, "workflowUrl": None}
    error_of(stan.get(SESSION), 404, "SESSION_NOT_FOUND")
    error_of(stan.delete(SESSION), 404, "SESSION_NOT_FOUND")


def test_a_named_workflow_becomes_a_real_draft_and_the_end_returns_its_url(daemon, stan):
    body = stan.post(SESSIONS, json={"modelId": "sonnet", "activeWorkflowName": "Customer Onboarding"}).json()
    workflow_id = body["activeWorkflowId"]
    assert body["workflowId"] == workflow_id and body["activeWorkflowName"] == "Customer Onboarding"
    record = workflow(daemon, workflow_id)
    assert record["name"] == "Customer Onboarding" and record["status"] == "draft"
    assert record["definition"] == {"pattern": "sequence", "steps": [], "triggers": []}

    again = stan.post(SESSIONS, json={"modelId": "sonnet", "activeWorkflowId": workflow_id}).json()
    assert again["activeWorkflowName"] == "Customer Onboarding"
    assert stan.delete(SESSION).json() == {"ended": True, "workflowId": workflow_id,
                                           "workflowUrl": f"/src/workflows/{workflow_id}"}


def test_a_new_session_replaces_the_current_one(stan):
    stan.post(SESSIONS, json={"modelId": "haiku"})
    first = stan.get(SESSION).json()
    stan.post(SESSIONS, json={"modelId": "opus"})
    second = stan.get(SESSION).json()
    assert second["modelId"] == "opus" and second["conversationId"] != first["conversationId"]
    ids = [c["id"] for c in stan.get("/api/v1/stan/conversations").json()]
    assert {first["conversationId"], second["conversationId"]} <= set(ids)  # the old one stays in history


@pytest.mark.parametrize("body,field", [
    ({}, "modelId"), ({"modelId": ""}, "modelId"), ({"modelId": 7}, "modelId"),
    ({"modelId": "sonnet", "activeWorkflowId": 3}, "activeWorkflowId"),
    ({"modelId": "sonnet", "activeWorkflowName": ""}, "activeWorkflowName"),
])
def test_create_rejects_bad_bodies_and_keeps_no_session(stan, body, field):
    response = stan.post(SESSIONS, json=body)
    assert field in error_of(response, 400, "VALIDATION_ERROR")
    assert field in response.json()["details"]
    assert stan.get(SESSION).status_code == 404


def test_create_with_an_unknown_workflow_is_404(stan):
    error_of(stan.post(SESSIONS, json={"modelId": "sonnet", "activeWorkflowId": "nope"}), 404, "WORKFLOW_NOT_FOUND")
    assert stan.get(SESSION).status_code == 404


def test_other_session_ids_are_404(stan):
    stan.post(SESSIONS, json={"modelId": "sonnet"})
    for response in (stan.get(SESSIONS + "/stan-someone"), stan.delete(SESSIONS + "/stan-someone"),
                     stan.post(SESSIONS + "/stan-someone/messages", json={"message": "hi"})):
        error_of(response, 404, "SESSION_NOT_FOUND")
    assert stan.get(SESSION).status_code == 200


def test_messages_need_a_session(stan, fake):
    error_of(stan.post(SESSION + "/messages", json={"message": "hi"}), 404, "SESSION_NOT_FOUND")
    assert fake.requests == []


@pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": 5}, {"message": None}])
def test_messages_reject_bad_bodies(stan, fake, llm_env, body):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    error_of(stan.post(SESSION + "/messages", json=body), 400, "VALIDATION_ERROR")
    error_of(stan.post(MESSAGE, json=body), 400, "VALIDATION_ERROR")
    assert fake.requests == [] and stan.get(SESSION).json()["messageCount"] == 0


# ---- Stan builds a workflow ------------------------------------------------------------------

def _result(call: dict) -> dict:
    return json.loads(call["result"])


def test_a_multi_turn_conversation_builds_a_real_workflow(daemon, stan, llm_env):
    fake = llm_env
    stan.post(SESSIONS, json={"modelId": "openai/fake"})

    # Turn 1: a workflow with a webhook trigger and a first step.
    fake.enqueue_tool_call("create_workflow", {"name": "Customer Onboarding"})
    fake.enqueue_tool_calls([("add_workflow_node", {"type": "webhook-trigger", "config": {"path": "/signup"}}, "c1"),
                             ("add_workflow_node", {"type": "agent", "name": "Welcome email",
                                                    "prompt": "Write a welcome email"}, "c2")])
    fake.enqueue_text("I've added a webhook trigger node and a welcome step to your workflow.")
    reply = stan.post(SESSION + "/messages", json={"message": "Build an onboarding workflow"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["content"] == "I've added a webhook trigger node and a welcome step to your workflow."
    assert body["isComplete"] is True
    assert [(c["name"], c["arguments"].get("type")) for c in body["toolCalls"]] == [
        ("create_workflow", None), ("add_workflow_node", "webhook-trigger"), ("add_workflow_node", "agent")]
    workflow_id = _result(body["toolCalls"][0])["workflow"]["id"]
    trigger_id = _result(body["toolCalls"][1])["added"]["id"]
    welcome_id = _result(body["toolCalls"][2])["added"]["id"]
    assert [w["id"] for w in body["resources"]["workflows"]] == [workflow_id]
    assert body["resources"]["workflows"][0]["url"] == f"/src/workflows/{workflow_id}"

    record = workflow(daemon, workflow_id)
    assert record["name"] == "Customer Onboarding"
    assert record["definition"]["triggers"] == [{"id": trigger_id, "name": "Webhook trigger",
                                                 "type": "webhook-trigger", "config": {"path": "/signup"}}]
    assert record["definition"]["steps"] == [{"id": welcome_id, "name": "Welcome email", "type": "agent",
                                              "config": {}, "prompt": "Write a welcome email"}]
    session = stan.get(SESSION).json()
    assert session["activeWorkflowId"] == workflow_id and session["activeWorkflowName"] == "Customer Onboarding"

    # Turn 2: the model sees the nodes (ids included) and connects a new step after the first one.
    fake.requests.clear()
    fake.enqueue_tool_call("add_workflow_node", {"type": "approval", "name": "Manager sign-off"})
    fake.enqueue_text("Added an approval step.")
    approval_id = _result(stan.post(MESSAGE, json={"message": "Add a sign-off"}).json()["toolCalls"][0])["added"]["id"]
    system = fake.requests[0]["messages"][0]["content"]
    assert welcome_id in system and trigger_id in system
    assert {t["function"]["name"] for t in fake.requests[0]["tools"]} == {t.name for t in STAN_TOOLS}
    assert any(m["role"] == "user" and m["content"] == "Build an onboarding workflow" for m in fake.requests[0]["messages"])

    fake.enqueue_tool_call("connect_nodes", {"sourceId": welcome_id, "targetId": approval_id})
    fake.enqueue_tool_call("set_node_config", {"nodeId": approval_id, "config": {"approver": "manager"}})
    fake.enqueue_tool_call("rename_workflow", {"name": "Onboarding v2"})
    fake.enqueue_text("Connected, configured and renamed.")
    third = stan.post(SESSION + "/messages", json={"message": "Sign-off after the email"}).json()
    assert [c["name"] for c in third["toolCalls"]] == ["connect_nodes", "set_node_config", "rename_workflow"]
    record = workflow(daemon, workflow_id)
    assert record["name"] == "Onboarding v2"
    approval = record["definition"]["steps"][1]
    assert approval == {"id": approval_id, "name": "Manager sign-off", "type": "approval",
                        "config": {"approver": "manager"}, "prompt": "", "requiresApproval": True,
                        "dependsOn": [welcome_id]}

    # Turn 4: a mistake of the model (a cycle, an unknown node) is reported to it and changes nothing.
    fake.enqueue_tool_calls([("connect_nodes", {"sourceId": approval_id, "targetId": welcome_id}, "x1"),
                             ("remove_workflow_node", {"nodeId": "step-missing"}, "x2")])
    fake.enqueue_text("Those changes were not possible.")
    fourth = stan.post(SESSION + "/messages", json={"message": "Loop it"}).json()
    assert all(c["result"].startswith("error:") for c in fourth["toolCalls"])
    assert "cycle" in fourth["toolCalls"][0]["result"] and "step-missing" in fourth["toolCalls"][1]["result"]
    assert workflow(daemon, workflow_id)["definition"] == record["definition"]

    # Turn 5: removing the first step removes it from dependsOn too.
    fake.enqueue_tool_call("remove_workflow_node", {"nodeId": welcome_id})
    fake.enqueue_text("Removed.")
    stan.post(SESSION + "/messages", json={"message": "Drop the email"})
    steps = workflow(daemon, workflow_id)["definition"]["steps"]
    assert [s["id"] for s in steps] == [approval_id] and "dependsOn" not in steps[0]

    assert stan.get(SESSION).json()["messageCount"] == 10  # five user messages, five answers
    assert stan.delete(SESSION).json()["workflowId"] == workflow_id


def test_a_node_without_an_active_workflow_creates_a_draft(daemon, stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_tool_call("add_workflow_node", {"type": "schedule-trigger", "config": {"cron": "0 9 * * 1"}})
    llm_env.enqueue_text("Done.")
    body = stan.post(SESSION + "/messages", json={"message": "Run it every Monday"}).json()
    workflow_id = body["toolCalls"][0]["arguments"] and _result(body["toolCalls"][0])["workflowId"]
    record = workflow(daemon, workflow_id)
    assert record["name"] == "Untitled workflow" and record["definition"]["steps"] == []
    assert record["definition"]["triggers"][0]["config"] == {"cron": "0 9 * * 1"}
    assert stan.get(SESSION).json()["activeWorkflowId"] == workflow_id
    # The schedule-trigger node made its schedule: the workflow runs every Monday.
    [schedule] = wait_until(lambda: daemon.client.get("/api/schedules").json(), what="the trigger's schedule")
    assert (schedule["workflowId"], schedule["cronExpression"]) == (workflow_id, "0 9 * * 1")


def test_list_workflows_reports_the_records(daemon, stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake", "activeWorkflowName": "Reports"})
    llm_env.enqueue_tool_call("list_workflows", {})
    llm_env.enqueue_text("You have one workflow.")
    call = stan.post(MESSAGE, json={"message": "What do I have?"}).json()["toolCalls"][0]
    (listed,) = _result(call)["workflows"]
    assert listed["name"] == "Reports" and listed["active"] is True and listed["steps"] == 0


@pytest.mark.parametrize("tool,args,expected", [
    ("create_workflow", {"name": "X", "projectId": "no-such-project"}, "Project no-such-project not found"),
    ("create_workflow", {"name": "X", "pattern": "spiral"}, "Unknown workflow pattern"),
    ("create_workflow", {"name": "  "}, "'name' must be a non-empty string"),
    ("rename_workflow", {"name": ""}, "'name' is required"),
    ("add_workflow_node", {"type": "email-trigger"}, "unknown node type"),
    ("add_workflow_node", {"type": "agent", "config": "loud"}, "'config' must be an object"),
    ("connect_nodes", {"sourceId": "TRIGGER", "targetId": "STEP"}, "triggers start the whole workflow"),
    ("set_node_config", {"nodeId": "nope", "config": {}}, "no node 'nope'"),
    ("set_active_workflow", {"workflowId": "nope"}, "Workflow not found"),
    ("add_workflow_node", {"type": "agent"}, "is active; it can be edited when it is not running"),
    ("rename_workflow", {"name": "Renamed while running"}, "is active; it can be edited when it is not running"),
])
def test_tool_mistakes_are_told_to_the_model_and_change_nothing(daemon, stan, llm_env, tool, args, expected):
    stan.post(SESSIONS, json={"modelId": "openai/fake", "activeWorkflowName": "Fixed"})
    workflow_id = stan.get(SESSION).json()["activeWorkflowId"]
    llm_env.enqueue_tool_calls([("add_workflow_node", {"type": "webhook-trigger"}, "a"),
                                ("add_workflow_node", {"type": "agent"}, "b")])
    llm_env.enqueue_text("Set up.")
    calls = stan.post(MESSAGE, json={"message": "Start"}).json()["toolCalls"]
    ids = {"TRIGGER": _result(calls[0])["added"]["id"], "STEP": _result(calls[1])["added"]["id"]}
    if "is active" in expected:
        with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
            conn.execute("UPDATE workflows SET status = 'active' WHERE id = ?", (workflow_id,))
    before = db_rows(daemon, "SELECT id, name, definition, status FROM workflows ORDER BY id")

    llm_env.enqueue_tool_call(tool, {k: ids.get(v, v) if isinstance(v, str) else v for k, v in args.items()})
    llm_env.enqueue_text("That did not work.")
    reply = stan.post(MESSAGE, json={"message": "Try it"})
    assert reply.status_code == 200 and reply.json()["content"] == "That did not work."
    (call,) = reply.json()["toolCalls"]
    assert call["result"].startswith("error:") and expected in call["result"], call["result"]
    assert [dict(r) for r in db_rows(daemon, "SELECT id, name, definition, status FROM workflows ORDER BY id")] == [
        dict(r) for r in before]
    assert stan.get(SESSION).json()["activeWorkflowId"] == workflow_id


def test_a_bad_first_node_creates_no_workflow(daemon, stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_tool_call("add_workflow_node", {"type": "email-trigger"})
    llm_env.enqueue_text("That type does not exist.")
    (call,) = stan.post(MESSAGE, json={"message": "Start on email"}).json()["toolCalls"]
    assert call["result"].startswith("error: unknown node type 'email-trigger'")
    assert db_rows(daemon, "SELECT id FROM workflows") == []
    assert stan.get(SESSION).json()["activeWorkflowId"] is None


def test_an_unknown_tool_is_answered_at_once_without_asking(daemon, stan, llm_env):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:  # were it asked, it would be denied
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('permissions.requestTimeoutSeconds', '0', 'now')")
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_tool_call("launch_rockets", {"count": 3})
    llm_env.enqueue_text("I have no such tool.")
    (call,) = stan.post(MESSAGE, json={"message": "Launch"}).json()["toolCalls"]
    assert call["result"].startswith("error: unknown tool 'launch_rockets'") and "add_workflow_node" in call["result"]
    assert db_rows(daemon, "SELECT id FROM notifications") == []  # nobody was asked


def _post_in_background(daemon, path: str, body: dict) -> concurrent.futures.Future:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(httpx.post, daemon.url + path, json=body, headers={"X-API-Key": daemon.api_key}, timeout=30)
    pool.shutdown(wait=False)
    return future


def _wait_until_streaming(daemon, fake, conversation_id: str) -> None:
    """The reply is in progress and the model has been asked (it is streaming the hang)."""
    while not (daemon.app.state.conversations.busy(conversation_id) and fake.requests):
        time.sleep(0.01)


def test_deleting_the_conversation_mid_reply_is_404_and_a_second_message_meanwhile_409(daemon, stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    conversation_id = stan.get(SESSION).json()["conversationId"]
    llm_env.enqueue_hang()
    pending = _post_in_background(daemon, MESSAGE, {"message": "Take your time"})
    _wait_until_streaming(daemon, llm_env, conversation_id)
    second = stan.post(SESSION + "/messages", json={"message": "Me too"})
    assert "reply is in progress" in error_of(second, 409, "REPLY_IN_PROGRESS")
    assert stan.delete(f"/api/chat/conversations/{conversation_id}").status_code == 204
    assert "deleted" in error_of(pending.result(30), 404, "SESSION_NOT_FOUND")
    error_of(stan.get(SESSION), 404, "SESSION_NOT_FOUND")


def test_an_interrupted_reply_is_409_and_the_session_goes_on(daemon, stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    conversation_id = stan.get(SESSION).json()["conversationId"]
    llm_env.enqueue_hang()
    pending = _post_in_background(daemon, SESSION + "/messages", {"message": "Take your time"})
    _wait_until_streaming(daemon, llm_env, conversation_id)
    supervisor = daemon.app.state.supervisor
    (name,) = supervisor.names("stan-turn:")
    asyncio.run_coroutine_threadsafe(supervisor.cancel(name), daemon.loop).result(10)
    error_of(pending.result(30), 409, "REPLY_INTERRUPTED")
    llm_env.enqueue_text("Here now.")
    assert stan.post(MESSAGE, json={"message": "Again"}).json()["content"] == "Here now."
    assert stan.get(SESSION).json()["conversationId"] == conversation_id


def test_concurrent_session_changes_keep_each_other(daemon, stan):
    stan.post(SESSIONS, json={"modelId": "ollama/first-model"})
    conversation_id = stan.get(SESSION).json()["conversationId"]
    facade = Stan(daemon.app.state.db, daemon.app.state.conversations, daemon.app.state.supervisor)

    async def both():
        await asyncio.gather(facade.set_model("ollama/second-model"), facade.record_active_workflow(
            {"conversationId": conversation_id, "activeWorkflowId": "wf-picked", "activeWorkflowName": "Picked"}))

    asyncio.run_coroutine_threadsafe(both(), daemon.loop).result(10)
    session = stan.get(SESSION).json()
    assert (session["modelId"], session["activeWorkflowId"]) == ("ollama/second-model", "wf-picked")


def test_a_workflow_can_belong_to_a_project(daemon, stan, llm_env):
    project = stan.post("/api/projects", json={"name": "Sales"}).json()
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_tool_call("create_workflow", {"name": "Leads", "projectId": project["id"], "pattern": "checkpoint"})
    llm_env.enqueue_text("Created.")
    call = stan.post(MESSAGE, json={"message": "A workflow for Sales"}).json()["toolCalls"][0]
    record = workflow(daemon, _result(call)["workflow"]["id"])
    assert record["project_id"] == project["id"] and record["definition"]["pattern"] == "checkpoint"


# ---- the universal message endpoint ------------------------------------------------------------

def test_message_starts_a_session_with_the_default_model_and_records_the_source(daemon, stan, llm_env):
    llm_env.enqueue_text("Hello! What shall we build?")
    reply = stan.post(MESSAGE, json={"message": "Hi Stan", "source": "mobile"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["content"] == "Hello! What shall we build?" and body["isComplete"] is True
    assert body["toolCalls"] == [] and body["resources"] == {} and "command" not in body
    session = stan.get(SESSION).json()
    assert session["modelId"] == "openai/fake" and session["messageCount"] == 2
    (user,) = db_rows(daemon, "SELECT source FROM chat_messages WHERE role = 'user'")
    assert user["source"] == "mobile"

    stan.post(MESSAGE, json={"message": "And again"})
    sources = [r["source"] for r in db_rows(daemon, "SELECT source FROM chat_messages WHERE role = 'user' ORDER BY seq")]
    assert sources == ["mobile", "chat"]


def test_message_without_a_provider_is_a_clear_400_but_commands_still_answer(stan, fake):
    error_of(stan.post(MESSAGE, json={"message": "Hi"}), 400, "NO_PROVIDER")
    assert stan.get(SESSION).status_code == 404
    reply = stan.post(MESSAGE, json={"message": "/help"})
    assert reply.status_code == 200 and reply.json()["command"] == "help"
    assert fake.requests == []


def test_a_provider_failure_is_502(stan, llm_env):
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_error(400, "model exploded")
    error_of(stan.post(SESSION + "/messages", json={"message": "Hi"}), 502, "UPSTREAM_ERROR")


# ---- slash commands --------------------------------------------------------------------------------

def _insert_schedules(daemon) -> None:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        for name, kind in (("Daily digest", "scheduled"), ("Pulse", "heartbeat")):
            conn.execute("INSERT INTO schedules (id, name, prompt, cron_expression, type, created_at, updated_at) "
                         "VALUES (?,?,?,?,?,?,?)", (name, name, "p", "0 9 * * *", kind, "2026-01-01", "2026-01-01"))


def test_the_slash_command_table(daemon, stan, llm_env):
    """Each command answers without calling the model; every command in the table is covered."""
    fake = llm_env
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    first = stan.get(SESSION).json()["conversationId"]
    _insert_schedules(daemon)
    table = [
        ("/help", "help", ["/new", "/model <id>", "/resume <id>", "/heartbeat"]),
        ("/model", "model", ["openai/fake"]),
        ("/model openai/gpt-5.4-mini", "model", ["GPT-5.4 Mini"]),
        ("/personality", "personality", ["professional"]),
        ("/personality friendly", "personality", ["friendly"]),
        ("/personality grumpy", "personality", ["Unknown personality", "concise"]),
        ("/skills", "skills", ["workflow-builder", "Your skills"]),
        ("/context", "context", ["tokens used"]),
        ("/compact", "compact", ["Nothing to compact"]),
        ("/conversations", "conversations", [first]),
        ("/new", "new", ["new conversation", "GPT-5.4 Mini"]),
        ("/model openai/other", "model", ["other"]),
        (f"/resume {first}", "resume", ["Resumed", "0 of 0 messages"]),
        ("/resume nope", "resume", ["Conversation not found"]),
        ("/resume", "resume", ["Usage: /resume <id>"]),
        ("/tasks", "tasks", ["Daily digest"]),
        ("/heartbeat", "heartbeat", ["Heartbeat", "minutes, checks:", "It has not run yet."]),
        ("/frobnicate now", "frobnicate", ["Unknown command /frobnicate", "/help"]),
    ]
    assert {command for _, command, _ in table} >= set(slash.COMMANDS)
    for message, command, expected in table:
        response = stan.post(MESSAGE, json={"message": message})
        assert response.status_code == 200, (message, response.text)
        body = response.json()
        assert body["command"] == command and body["isComplete"] is True and body["toolCalls"] == []
        for text in expected:
            assert text in body["content"], (message, body["content"])
    assert fake.requests == []  # not one command called the model

    assert "Pulse" not in stan.post(MESSAGE, json={"message": "/tasks"}).json()["content"]  # heartbeats are not tasks
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO stan_heartbeat_runs (id, started_at, finished_at, healthy, results, trigger) "
                     "VALUES ('r1', '2026-02-01T10:00:00.000Z', '2026-02-01T10:00:01.000Z', 0, ?, 'manual')",
                     (json.dumps([{"check": "workflows", "status": "warn", "message": "2 tasks failed"},
                                  {"check": "credits", "status": "ok", "message": "fine"}]),))
    assert ("Last run 2026-02-01T10:00:00.000Z: issues found (workflows: 2 tasks failed)."
            in stan.post(MESSAGE, json={"message": "/heartbeat"}).json()["content"])
    assert stan.get("/api/v1/stan/personality").json() == {"personality": "friendly"}
    session = stan.get(SESSION).json()
    assert session["conversationId"] == first and session["modelId"] == "openai/gpt-5.4-mini"  # /resume restored it
    assert stan.get(SESSION).json()["messageCount"] == 0  # commands are not conversation messages


def test_a_command_without_a_session_starts_none(stan, llm_env):
    for message in ("/help", "/skills", "/context", "/conversations"):
        assert stan.post(MESSAGE, json={"message": message}).status_code == 200
    error_of(stan.get(SESSION), 404, "SESSION_NOT_FOUND")
    assert stan.get("/api/v1/stan/conversations").json() == []  # no orphan conversations
    assert llm_env.requests == []


def test_new_still_works_after_the_active_workflow_was_deleted(daemon, stan):
    workflow_id = stan.post(SESSIONS, json={"modelId": "sonnet", "activeWorkflowName": "Gone soon"}).json()["workflowId"]
    first = stan.get(SESSION).json()["conversationId"]
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("DELETE FROM workflows WHERE id = ?", (workflow_id,))
    body = stan.post(MESSAGE, json={"message": "/new"}).json()
    assert body["command"] == "new" and body["content"].startswith("Started a new conversation"), body
    session = stan.get(SESSION).json()
    assert session["conversationId"] != first and session["activeWorkflowId"] is None and session["modelId"] == "sonnet"


def test_commands_also_answer_in_a_session(stan, fake):
    stan.post(SESSIONS, json={"modelId": "sonnet"})
    body = stan.post(SESSION + "/messages", json={"message": "/context"}).json()
    assert body["command"] == "context" and "tokens used" in body["content"]
    assert fake.requests == []


def test_commands_that_need_a_session_say_so(stan, fake):
    for message in ("/model x", "/context"):
        assert "No active" in stan.post(MESSAGE, json={"message": message}).json()["content"]
    assert "No active Stan session" in stan.post(MESSAGE, json={"message": "/compact"}).json()["content"]
    assert "No scheduled tasks" in stan.post(MESSAGE, json={"message": "/tasks"}).json()["content"]
    assert fake.requests == []


@pytest.mark.parametrize("text", ["/ not a command", "//", "path /usr/bin"])
def test_text_that_only_contains_a_slash_goes_to_the_model(stan, llm_env, text):
    llm_env.enqueue_text("A normal answer.")
    body = stan.post(MESSAGE, json={"message": text}).json()
    assert "command" not in body and body["content"] == "A normal answer."



# Stan's workflow tools must run without asking: the Stan API has no way to answer a permission
# request, so a gated tool would hold the request until the permission timeout.
def test_stan_tools_need_no_allow_list(daemon, stan, llm_env):
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:  # an unanswered request is denied at once
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('permissions.requestTimeoutSeconds', '0', 'now')")
    stan.post(SESSIONS, json={"modelId": "openai/fake"})
    llm_env.enqueue_tool_call("create_workflow", {"name": "Allowed"})
    llm_env.enqueue_text("Created.")
    call = stan.post(SESSION + "/messages", json={"message": "Create one"}).json()["toolCalls"][0]
    assert not call["result"].startswith("Permission denied"), call["result"]
    assert _result(call)["created"] is True

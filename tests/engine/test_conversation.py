"""The conversation engine (app.state.conversations) on the real daemon: turns with custom tool
sets, prompts (personality, skills, summary), context accounting, compaction, usage rows."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time

import pytest

from stagent.engine.agent import llm
from stagent.engine.agent.tools import ToolError
from stagent.engine.chat import context
from stagent.engine.chat.conversation import BUILTIN_SKILLS, PERSONALITIES, ToolSpec
from stagent.errors import Conflict, Invalid, NotFound, UpstreamError
from stagent.store import conversations as store


def run(daemon, coro, timeout: float = 30):
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(timeout)


@pytest.fixture
def engine(daemon):
    return daemon.app.state.conversations


def allow_everything(daemon):
    """An allow-list entry for every tool, so turns do not stop for a human."""
    r = daemon.client.post("/api/permissions", json={"pattern": "*"})
    assert r.status_code == 200, r.text


def ledger(daemon) -> list[tuple]:
    with sqlite3.connect(daemon.app.state.db.path) as db:
        return db.execute("SELECT activity_type, status, input_tokens, output_tokens, model_id "
                          "FROM usage_ledger ORDER BY started_at").fetchall()


def test_a_custom_tool_set_runs_with_its_context(daemon, engine, llm_env):
    allow_everything(daemon)
    seen = []

    async def remember(ctx, args):
        seen.append((ctx, args))
        return {"stored": args["fact"]}

    async def explode(ctx, args):
        raise ToolError("the fuse is wet")

    tools = [ToolSpec("remember", "Remember a fact.", {"type": "object", "properties": {
        "fact": {"type": "string"}}, "required": ["fact"]}, remember),
        ToolSpec("explode", "Fails.", {"type": "object", "properties": {}}, explode)]
    conv = run(daemon, engine.create(mode="workflows", owner="local", conversation_id="stan-local"))
    assert conv["id"] == "stan-local" and conv["activeSkills"] == ["workflow-builder"]
    llm_env.enqueue_tool_calls([("remember", {"fact": "sky is blue"}, "c1"), ("explode", {}, "c2")])
    llm_env.enqueue_text("Noted.")
    events = []

    async def on_event(event):
        events.append(event)

    reply = run(daemon, engine.send("stan-local", "remember this", tools=tools, tool_context="CTX",
                                    source="mobile", on_event=on_event))
    assert seen == [("CTX", {"fact": "sky is blue"})]
    assert reply.content == "Noted." and reply.is_complete and reply.model == "openai/fake"
    assert [(c["name"], c["arguments"], c["result"]) for c in reply.tool_calls] == [
        ("remember", {"fact": "sky is blue"}, '{"stored": "sky is blue"}'),
        ("explode", {}, "error: the fuse is wet")]
    assert reply.usage == {"inputTokens": 22, "outputTokens": 14, "costMicros": 0}
    assert [t["function"]["name"] for t in llm_env.requests[0]["tools"]] == ["remember", "explode"]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "done" and kinds.count("tool_call") == 2 and kinds.count("tool_result") == 2
    ids = [e["eventId"] for e in events]
    assert ids == sorted(ids)
    messages = run(daemon, engine.messages("stan-local"))
    assert messages[0]["source"] == "mobile" and messages[0]["tokenCount"] > 0
    assert all(m["tokenCount"] > 0 for m in messages)
    assert ledger(daemon) == [("chat_turn", "unknown_pricing", 22, 14, "openai/fake")]  # fake: no price


def test_no_tools_sends_no_tool_schemas(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    run(daemon, engine.send(conv["id"], "plain", tools=[]))
    assert "tools" not in llm_env.requests[-1]


def test_system_prompt_has_mode_personality_skills_and_extra(daemon, engine, llm_env):
    conv = run(daemon, engine.create(mode="workflows", personality="concise"))
    run(daemon, store.create_skill(daemon.app.state.db, {
        "name": "pirate", "description": "Talk like a pirate", "instructions": "Say arr."}))
    run(daemon, engine.send(conv["id"], "hi", tools=[], system_extra="The active workflow is wf-1."))
    system = llm_env.requests[-1]["messages"][0]["content"]
    assert "Stan" in system and PERSONALITIES["concise"] in system
    assert BUILTIN_SKILLS[0]["instructions"] in system and "Say arr." in system
    assert "The active workflow is wf-1." in system and PERSONALITIES["friendly"] not in system
    run(daemon, engine.set_personality(conv["id"], "friendly"))
    run(daemon, engine.update(conv["id"], active_skills=[]))
    run(daemon, engine.send(conv["id"], "again", tools=[]))
    system = llm_env.requests[-1]["messages"][0]["content"]
    assert PERSONALITIES["friendly"] in system and BUILTIN_SKILLS[0]["instructions"] not in system


def test_personalities_are_checked(daemon, engine):
    conv = run(daemon, engine.create())
    for call in (engine.set_personality(conv["id"], "grumpy"), engine.create(personality="grumpy"),
                 engine.update(conv["id"], personality="grumpy")):
        with pytest.raises(Invalid, match="Unknown personality 'grumpy'. Use one of: professional"):
            run(daemon, call)
    assert run(daemon, engine.get(conv["id"]))["personality"] is None


def test_skill_names_are_unique_inside_the_writing_transaction(daemon):
    """Two renames racing for one name: the store refuses the second (409), not a UNIQUE error (500)."""
    db = daemon.app.state.db
    first = run(daemon, store.create_skill(db, {"name": "alpha", "instructions": "a"}))
    second = run(daemon, store.create_skill(db, {"name": "beta", "instructions": "b"}))
    with pytest.raises(Conflict) as caught:
        run(daemon, store.update_skill(db, second["id"], {"name": "alpha"}))
    assert caught.value.code == "SKILL_EXISTS"
    with pytest.raises(Conflict) as caught:
        run(daemon, store.create_skill(db, {"name": "beta", "instructions": "again"}))
    assert caught.value.code == "SKILL_EXISTS"
    assert run(daemon, store.update_skill(db, first["id"], {"name": "alpha", "active": False}))["active"] is False
    assert [s["name"] for s in run(daemon, store.list_skills(db))] == ["alpha", "beta"]


def test_a_turn_that_cannot_start_stores_nothing(daemon, engine, fake):
    conv = run(daemon, engine.create())
    with pytest.raises(Invalid):  # no provider configured
        run(daemon, engine.send(conv["id"], "hi", tools=[]))
    with pytest.raises(Invalid):
        run(daemon, engine.send(conv["id"], "  ", tools=[]))
    with pytest.raises(NotFound):
        run(daemon, engine.send("nope", "hi", tools=[]))
    assert run(daemon, engine.messages(conv["id"])) == [] and fake.requests == []


def test_provider_failure_raises_upstream_error_after_an_error_event(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    llm_env.enqueue_error(401, "bad key")
    events = []

    async def on_event(event):
        events.append(event)

    with pytest.raises(UpstreamError):
        run(daemon, engine.send(conv["id"], "hi", tools=[], on_event=on_event))
    assert events[-1]["type"] == "error" and "bad key" in events[-1]["message"]
    assert [m["status"] for m in run(daemon, engine.messages(conv["id"]))] == ["complete", "error"]


def test_context_stats_are_the_stored_counts_plus_the_system_prompt(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    empty = run(daemon, engine.context_stats(conv["id"]))
    assert empty["totalTokens"] > 0 and empty["maxTokens"] == context.DEFAULT_WINDOW  # openai/fake: unknown
    assert empty["availableTokens"] == empty["maxTokens"] - empty["totalTokens"]
    assert empty["needsCompaction"] is False and empty["usagePercentage"] == 0
    llm_env.enqueue_text("word " * 200)
    run(daemon, engine.send(conv["id"], "talk a lot", tools=[]))
    stats = run(daemon, engine.context_stats(conv["id"]))
    stored = sum(m["tokenCount"] for m in run(daemon, engine.messages(conv["id"])))
    assert stats["totalTokens"] == empty["totalTokens"] + stored and stored > 200
    engine.context_window = stats["totalTokens"]  # a window this conversation fills
    full = run(daemon, engine.context_stats(conv["id"]))
    assert full["usagePercentage"] == 100 and full["needsCompaction"] and full["availableTokens"] == 0
    with pytest.raises(NotFound):
        run(daemon, engine.context_stats("nope"))


def _chat(daemon, engine, conv_id: str, llm_env, turns: int) -> None:
    for i in range(turns):
        llm_env.enqueue_text(f"Answer number {i} with some padding text to count. " * 5)
        run(daemon, engine.send(conv_id, f"Question number {i}: the secret code is {1000 + i}", tools=[]))


def test_compaction_summarises_old_messages_and_keeps_history(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 8)
    before = run(daemon, engine.context_stats(conv["id"]))
    llm_env.enqueue_text("SUMMARY: the user asked eight numbered questions; secret codes 1000-1007.")
    result = run(daemon, engine.compact(conv["id"], keep_recent=4))
    assert result["compacted"] is True and result["messagesCompacted"] == 12
    summary_request = llm_env.requests[-1]["messages"]
    assert "Question number 0" in summary_request[1]["content"]
    assert "Question number 7" not in summary_request[1]["content"]  # the recent ones are kept
    after = run(daemon, engine.context_stats(conv["id"]))
    assert after["totalTokens"] < before["totalTokens"] == result["totalTokensBefore"]
    assert result["totalTokensAfter"] == after["totalTokens"]
    history = run(daemon, engine.messages(conv["id"]))
    assert len(history) == 16 and sum(m["compacted"] for m in history) == 12  # nothing deleted

    llm_env.enqueue_text("The first secret code was 1000.")
    run(daemon, engine.send(conv["id"], "What was the first secret code?", tools=[]))
    sent = llm_env.requests[-1]["messages"]
    assert "SUMMARY: the user asked eight numbered questions" in sent[0]["content"]
    assert [m["content"][:17] for m in sent[1:] if m["role"] == "user"] == \
        ["Question number 6", "Question number 7", "What was the firs"]
    assert ("context_summarization", "unknown_pricing") in [row[:2] for row in ledger(daemon)]


def test_compaction_with_too_little_history_does_nothing(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 2)
    requests = len(llm_env.requests)
    assert run(daemon, engine.compact(conv["id"]))["compacted"] is False
    assert len(llm_env.requests) == requests  # the model was not asked


def test_a_turn_over_the_threshold_compacts_first(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 12)
    engine.context_window = int(run(daemon, engine.context_stats(conv["id"]))["totalTokens"] / 0.85)
    llm_env.enqueue_text("SUMMARY OF THE PAST")
    llm_env.enqueue_text("carrying on")
    events = []

    async def on_event(event):
        events.append(event)

    reply = run(daemon, engine.send(conv["id"], "next", tools=[], on_event=on_event))
    assert reply.content == "carrying on"
    assert events[0]["phase"] == "compacting"
    assert "SUMMARY OF THE PAST" in llm_env.requests[-1]["messages"][0]["content"]
    assert not run(daemon, engine.context_stats(conv["id"]))["needsCompaction"]


def test_choose_cut_keeps_tool_results_with_their_calls():
    rows = [{"role": r} for r in ("user", "assistant", "tool", "assistant", "user", "assistant", "tool",
                                  "assistant")]
    assert context.choose_cut(rows, 3) == 4   # back to the user message, keeping 4
    assert context.choose_cut(rows, 8) == 0   # everything is recent
    assert context.choose_cut(rows[:4], 1) == 0  # one turn: no user boundary to cut at


def summary_of(daemon, conversation_id: str) -> str | None:
    with sqlite3.connect(daemon.app.state.db.path) as db:
        return db.execute("SELECT summary FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]


def test_a_turn_counts_its_new_message_before_deciding_to_compact(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 6)
    run(daemon, llm.ensure_loaded())
    big = "Here is the whole contract text to review, clause by clause. " * 150
    history = run(daemon, engine.context_stats(conv["id"]))["totalTokens"]
    message = context.count("openai/fake", [{"role": "user", "content": big}])
    # History alone stays under 80 % of this window; history plus the message does not.
    engine.context_window = int((history + message // 2) / context.COMPACTION_THRESHOLD)
    assert not run(daemon, engine.context_stats(conv["id"]))["needsCompaction"]
    llm_env.enqueue_text("SUMMARY BEFORE THE CONTRACT")
    llm_env.enqueue_text("Reviewed.")
    events = []

    async def on_event(event):
        events.append(event)

    assert run(daemon, engine.send(conv["id"], big, tools=[], on_event=on_event)).content == "Reviewed."
    assert events[0]["type"] == "status" and events[0]["phase"] == "compacting"
    assert "SUMMARY BEFORE THE CONTRACT" in llm_env.requests[-1]["messages"][0]["content"]


def test_mark_compacted_without_a_summary_keeps_the_stored_one(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 2)
    db = daemon.app.state.db
    first = run(daemon, engine.messages(conv["id"]))[0]
    run(daemon, db.write(lambda c: store.mark_compacted(c, conv["id"], first["seq"], summary="NEWER SUMMARY")))
    run(daemon, db.write(lambda c: store.mark_compacted(c, conv["id"], first["seq"] + 1)))
    assert summary_of(daemon, conv["id"]) == "NEWER SUMMARY"
    assert [m["compacted"] for m in run(daemon, engine.messages(conv["id"]))] == [True, True, False, False]


def test_keep_recent_waits_for_the_turn_in_progress_and_keeps_the_summary(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    _chat(daemon, engine, conv["id"], llm_env, 3)
    llm_env.enqueue_text("SUMMARY: three questions.")
    run(daemon, engine.compact(conv["id"], keep_recent=2))
    flagged = [m["compacted"] for m in run(daemon, engine.messages(conv["id"]))]
    assert flagged == [True, True, True, True, False, False]

    llm_env.enqueue_hang()
    turn = asyncio.run_coroutine_threadsafe(engine.send(conv["id"], "go on", tools=[]), daemon.loop)
    while not engine.busy(conv["id"]):
        time.sleep(0.01)
    kept = asyncio.run_coroutine_threadsafe(engine.keep_recent(conv["id"], 0), daemon.loop)
    run(daemon, engine.get(conv["id"]))  # a round trip on the daemon's loop: keep_recent had its chance
    assert not kept.done()  # it waits for the conversation's lock, which the turn holds
    assert [m["compacted"] for m in run(daemon, engine.messages(conv["id"]))][:6] == flagged
    turn.cancel()
    assert kept.result(10) == 0
    assert all(m["compacted"] for m in run(daemon, engine.messages(conv["id"])) if m["status"] != "error")
    assert summary_of(daemon, conv["id"]) == "SUMMARY: three questions."
    assert len(engine._locks) == 0  # the lock of a conversation nobody uses is dropped


def test_delete_cancels_a_turn_in_progress(daemon, engine, llm_env):
    conv = run(daemon, engine.create())
    llm_env.enqueue_hang()
    turn = asyncio.run_coroutine_threadsafe(engine.send(conv["id"], "go", tools=[]), daemon.loop)
    while not engine.busy(conv["id"]):  # the turn has started streaming
        time.sleep(0.01)
    run(daemon, engine.delete(conv["id"]))
    with pytest.raises(concurrent.futures.CancelledError):
        turn.result(10)
    with pytest.raises(NotFound):
        run(daemon, engine.get(conv["id"]))

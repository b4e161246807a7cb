"""The one conversation engine behind Stagent chat, Stan and Lars (app.state.conversations).

A turn (`send`): persist the user message → build the prompt (system prompt from mode,
personality, active skills, the caller's extra text and the compaction summary; then the
messages not yet summarised) → the agent loop (engine/agent/loop.py, with the Turn of turn.py
as its surface): streamed completions with tools, each tool call after Permissions.check_tool,
until the model answers → persist every step with its token count and model, and one
usage_ledger row (`chat_turn`).

Invariants:
- turns of one conversation run one at a time (a per-conversation lock), so history is never
  interleaved; compaction and keep_recent take the same lock. A message sent while a reply is
  in progress is refused (Conflict), never queued behind it;
- the budget is checked before every provider call; a turn that cannot start (unknown
  conversation, no provider, budget) raises before anything is stored or emitted. Once an
  event went out (the `compacting` status), every failure ends with an `error` event and the
  user message is stored, so the next turn's event ids are higher;
- every step is committed as it completes (assistant tool calls together with their
  results), so a turn cut off by a crash leaves a replayable history;
- tokens are counted in a worker thread, never on the event loop or in a writer transaction.
"""

from __future__ import annotations

import asyncio

from ...db import Database
from ...db.rows import new_id, now_iso
from ...errors import ApiError, Conflict, Invalid, UpstreamError
from ...store import conversations as store
from ...store import settings
from ...store import tasks as task_store
from ..agent import llm
from ..agent.providers import ModelTarget, resolve_model
from ..agent.tools import Tool, ToolSet
from ..keyed_locks import KeyedLocks
from ..profiles import runs as profile_runs
from . import context
from .live import LiveReplies
from .models import litellm_model
from .turn import EventSink, Reply, Turn, ledger_entry, prompt_message, store_user_message

ToolSpec = Tool  # a tool set is a list[Tool]: name, description, JSON-schema parameters, run(ctx, args)

MODES = ("chat", "workflows", "assistant")
MODE_PROMPTS = {
    "chat": ("You are the assistant inside stagent, a local AI-agent workspace. You help the user "
             "with their projects, tasks, workflows and schedules, and you use your tools to read "
             "and change them. Never claim you did something a tool did not confirm."),
    "workflows": ("You are Stan, the workflow-builder assistant. You build and edit the user's "
                  "workflows with your tools, and you only report changes the tools confirmed."),
    "assistant": ("You are Lars, an operations assistant. Answer briefly and suggest concrete "
                  "actions the user can approve."),
}
PERSONALITIES = {
    "professional": "Tone: professional. Be clear, precise and courteous; prefer complete sentences.",
    "friendly": "Tone: friendly. Be warm and encouraging, plain-spoken, and keep it light.",
    "concise": "Tone: concise. Answer in as few words as possible; no preamble, no repetition.",
}
DEFAULT_PERSONALITY = "professional"
BUILTIN_SKILLS = [
    {"id": "workflow-builder", "name": "workflow-builder", "category": "build",
     "description": "Build and edit workflows conversationally.",
     "instructions": ("When the user describes a process, turn it into a workflow: create or pick the "
                      "workflow, add one node per step, connect nodes in order, and set each node's "
                      "config. Confirm each change from the tool results.")},
    {"id": "project-manager", "name": "project-manager", "category": "projects",
     "description": "Find, create and describe projects.",
     "instructions": "Use the project tools to look projects up before answering questions about them."},
    {"id": "task-operator", "name": "task-operator", "category": "tasks",
     "description": "Create, inspect and run tasks.",
     "instructions": ("Create tasks with a short imperative title and a description that states the "
                      "expected output. Run a task only when the user asks for it.")},
    {"id": "schedule-keeper", "name": "schedule-keeper", "category": "schedules",
     "description": "Inspect schedules and heartbeats.",
     "instructions": "List schedules before answering questions about what runs when."},
]
DEFAULT_SKILLS = {"workflows": ["workflow-builder"]}
EVENT_ID_SPAN = 1_000_000  # event ids of one turn: (base seq + 1) * span + 1, + 2, ...
FINAL_EVENTS = ("done", "error")


def check_personality(personality: str) -> str:
    if personality not in PERSONALITIES:
        raise Invalid(f"Unknown personality '{personality}'. Use one of: {', '.join(PERSONALITIES)}")
    return personality


async def _no_events(_event: dict) -> None:
    return None


class ConversationEngine:
    def __init__(self, db: Database, runner, permissions, budgets, *, context_window: int | None = None,
                 max_steps: int = 30, request_timeout: float = 120.0, retry_base_delay: float = 0.5):
        self.db = db
        self.runner = runner
        self.permissions = permissions
        self.budgets = budgets
        self.context_window = context_window  # overrides the model's window (tests, small models)
        self.max_steps = max_steps
        self.request_timeout = request_timeout
        self.retry_base_delay = retry_base_delay
        self._locks = KeyedLocks()  # one per conversation id
        self._replying: dict[str, asyncio.Task] = {}  # conversation -> the task of its reply in progress
        self.live = LiveReplies()  # the events of each reply in progress, for readers that come back
        self._deleting: set[str] = set()

    # ---- conversations -------------------------------------------------------------------------

    async def create(self, *, mode: str = "chat", model_id: str | None = None, title: str | None = None,
                     project_id: str | None = None, runtime_id: str | None = None, owner: str = "local",
                     conversation_id: str | None = None, personality: str | None = None,
                     active_skills: list[str] | None = None, agent_profile: str | None = None) -> dict:
        if personality is not None:
            check_personality(personality)
        agent_profile = await self._check_profile(agent_profile, runtime_id, project_id)
        return await store.create_conversation(self.db, {
            "agent_profile": agent_profile,
            "id": conversation_id, "mode": mode, "model_id": model_id, "title": title,
            "project_id": project_id, "runtime_id": runtime_id, "owner": owner, "personality": personality,
            "active_skills": active_skills if active_skills is not None else DEFAULT_SKILLS.get(mode, [])})

    async def get(self, conversation_id: str) -> dict:
        return await store.get_conversation(self.db, conversation_id)

    async def list(self, *, owner: str | None = None, mode: str | None = None, limit: int | None = 20,
                   status: str | None = None, project_id: str | None = None) -> list[dict]:
        """Most recently updated first."""
        return await store.list_conversations(self.db, owner=owner, mode=mode, status=status,
                                              project_id=project_id, limit=limit)

    async def messages(self, conversation_id: str, *, limit: int | None = None, after: str | None = None,
                       visible_only: bool = False) -> list[dict]:
        """In order; `after` is a message-id cursor."""
        return await store.list_messages(self.db, conversation_id, limit=limit, after=after,
                                         visible_only=visible_only)

    async def update(self, conversation_id: str, **fields) -> dict:
        """Change stored fields (title, status, model_id, runtime_id, project_id, personality, ...)."""
        if fields.get("personality") is not None:
            check_personality(fields["personality"])
        if "agent_profile" in fields or ("runtime_id" in fields and fields["runtime_id"]):
            conv = await self.get(conversation_id)
            profile_id = fields["agent_profile"] if "agent_profile" in fields else conv.get("agentProfile")
            checked = await self._check_profile(profile_id, fields.get("runtime_id") or conv.get("runtimeId"),
                                                fields.get("project_id", conv.get("projectId")))
            if "agent_profile" in fields:
                fields["agent_profile"] = checked
        return await store.update_conversation(self.db, conversation_id, fields)

    async def _check_profile(self, profile_id: str | None, runtime_id: str | None,
                             project_id: str | None) -> str | None:
        return await profile_runs.check_named(getattr(self.runner, "profiles", None), profile_id, runtime_id,
                                              project_id)

    async def set_model(self, conversation_id: str, model_id: str | None, runtime_id: str | None = None) -> dict:
        fields = {"model_id": model_id}
        if runtime_id is not None:
            fields["runtime_id"] = runtime_id
        return await self.update(conversation_id, **fields)

    async def set_personality(self, conversation_id: str, personality: str) -> dict:
        return await self.update(conversation_id, personality=check_personality(personality))

    async def delete(self, conversation_id: str) -> None:
        """Delete with its messages; a reply in progress is cancelled first."""
        self._deleting.add(conversation_id)
        try:
            live = self._replying.get(conversation_id)
            if live is not None and not live.done():
                live.cancel()
                await asyncio.wait({live}, timeout=5)
            await store.delete_conversation(self.db, conversation_id)
        finally:
            self._deleting.discard(conversation_id)

    async def cancel(self, conversation_id: str) -> bool:
        """Stop the reply in progress: it is stored as interrupted and ends with its `error`
        event. False when no reply is in progress."""
        await self.get(conversation_id)  # NotFound for an unknown conversation
        live = self._replying.get(conversation_id)
        if live is None or live.done():
            return False
        live.cancel()
        await asyncio.wait({live}, timeout=5)
        return True

    def being_deleted(self, conversation_id: str) -> bool:
        """Whether a reply was cancelled because its conversation is being deleted."""
        return conversation_id in self._deleting

    def busy(self, conversation_id: str) -> bool:
        """Whether a reply is in progress (from the message until its `done` or `error` event)."""
        live = self._replying.get(conversation_id)
        return live is not None and not live.done()

    def _end_reply(self, conversation_id: str, task: asyncio.Task | None) -> None:
        if self._replying.get(conversation_id) is task:
            del self._replying[conversation_id]

    async def system_prompt(self, conv: dict, system_extra: str = "", user_skills: list[dict] | None = None) -> str:
        """Mode, personality, active skills, the caller's extra text, the compaction summary."""
        if user_skills is None:
            user_skills = await store.list_skills(self.db)
        active = set(conv.get("activeSkills") or [])
        parts = [MODE_PROMPTS.get(conv.get("mode") or "chat", MODE_PROMPTS["chat"]),
                 PERSONALITIES.get(conv.get("personality") or DEFAULT_PERSONALITY, PERSONALITIES[DEFAULT_PERSONALITY])]
        parts += [f"## Skill: {s['name']}\n{s['instructions']}" for s in BUILTIN_SKILLS if s["id"] in active]
        parts += [f"## Skill: {s['name']}\n{s['instructions']}" for s in user_skills  # active everywhere, or here
                  if s["active"] or s["id"] in active]
        if system_extra:
            parts.append(system_extra)
        if conv.get("summary"):
            parts.append(f"## Summary of the earlier conversation\n{conv['summary']}")
        return "\n\n".join(parts)

    # ---- models and context ---------------------------------------------------------------------

    async def target_for(self, conv: dict) -> ModelTarget:
        """The conversation's model, else the stored chat default, else the daemon's default."""
        model_id = conv.get("modelId")
        registry = getattr(self.runner, "profiles", None)
        if not model_id and conv.get("agentProfile") and registry is not None:
            profile = await registry.find(conv["agentProfile"], conv.get("projectId"))
            model_id = profile_runs.model_override(profile, conv.get("runtimeId"))
            if model_id:  # a profile names a LiteLLM model, as for tasks
                return await resolve_model(self.db, model_id=model_id)
        if not model_id:
            model_id = (await settings.get_many(self.db, ["chat.defaultModel"]))["chat.defaultModel"] or None
        return await resolve_model(self.db, model_id=litellm_model(model_id) if model_id else None)

    async def context_stats(self, conversation_id: str) -> dict:
        """{totalTokens, availableTokens, maxTokens, usagePercentage, needsCompaction}."""
        conv = await self.get(conversation_id)
        try:
            model = (await self.target_for(conv)).model
        except Invalid:  # no provider yet: count with the default tokenizer
            model = litellm_model(conv.get("modelId") or "gpt-4o")
        return await self._stats(conv, model)

    async def _stats(self, conv: dict, model: str) -> dict:
        await llm.ensure_loaded()
        total = await store.history_tokens(self.db, conv["id"]) + await context.count_system_soon(
            model, await self.system_prompt(conv))
        return context.stats(total, context.window(model, self.context_window))

    async def compact(self, conversation_id: str, *, keep_recent: int = context.DEFAULT_KEEP_RECENT) -> dict:
        """Summarise all but the recent messages: {compacted, messagesCompacted, summary, ...}."""
        async with self._locks.hold(conversation_id):
            conv = await self.get(conversation_id)
            return await self._compact(conv, await self.target_for(conv), keep_recent)

    async def _compact(self, conv: dict, target: ModelTarget, keep_recent: int) -> dict:
        await llm.ensure_loaded()
        before = await self._stats(conv, target.model)
        rows = await store.prompt_rows(self.db, conv["id"])
        cut = context.choose_cut(rows, keep_recent)
        if cut == 0:
            return {"compacted": False, "messagesCompacted": 0, "totalTokensBefore": before["totalTokens"],
                    "totalTokensAfter": before["totalTokens"]}
        older = rows[:cut]
        request = context.summary_request(conv.get("summary"), older)
        run_key, started = f"chat-compact:{new_id()}", now_iso()
        try:
            max_tokens = await self.budgets.check_call(target, request, max_tokens=context.SUMMARY_MAX_TOKENS,
                                                       project_id=conv.get("projectId"), run_key=run_key)
            try:
                completion = await llm.complete_text(target, request, max_tokens=max_tokens)
            except llm.ProviderError as exc:
                raise UpstreamError(f"Compaction failed: {exc.message}") from None
            completion.cost_micros, completion.priced = await self.budgets.charge(
                run_key, target, completion, project_id=conv.get("projectId"))
            summary = completion.text.strip() or "(the earlier conversation had nothing worth keeping)"

            def apply(conn):
                store.mark_compacted(conn, conv["id"], older[-1]["seq"], summary=summary)
                status = "completed" if completion.priced else "unknown_pricing"
                task_store.record_usage_in(conn, ledger_entry(conv, target, "context_summarization", status,
                                                              completion, started))

            await self.db.write(apply)
        finally:
            await self.budgets.settle(run_key)
        after = await self._stats(await self.get(conv["id"]), target.model)
        return {"compacted": True, "messagesCompacted": sum(1 for r in older if r["visible"]),
                "summary": summary, "totalTokensBefore": before["totalTokens"],
                "totalTokensAfter": after["totalTokens"]}

    async def keep_recent(self, conversation_id: str, visible_messages: int) -> int:
        """Replay at most the last `visible_messages` readable messages in later prompts; older
        ones are flagged as summarised (the stored summary stays) but remain in history. The cut
        moves forward to a user message, so a tool call is never separated from its result.
        Returns how many readable messages later prompts replay."""
        async with self._locks.hold(conversation_id):
            rows = await store.prompt_rows(self.db, conversation_id)
            visible = [i for i, row in enumerate(rows) if row["visible"]]
            if len(visible) <= visible_messages:
                return len(visible)
            cut = visible[-visible_messages] if visible_messages > 0 else len(rows)
            while cut < len(rows) and rows[cut]["role"] != "user":
                cut += 1
            through = rows[cut - 1]["seq"]
            await self.db.write(lambda conn: store.mark_compacted(conn, conversation_id, through))
            return sum(1 for i in visible if i >= cut)

    # ---- a turn ----------------------------------------------------------------------------------

    async def send(self, conversation_id: str, content: str, *, tools: ToolSet | list[Tool],
                   source: str = "chat", system_extra: str = "", tool_context: object = None,
                   on_event: EventSink | None = None, permissions=None, max_steps: int | None = None) -> Reply:
        """One user message and the assistant's whole answer, with the caller's tool set (a
        ToolSet or a list of tools; [] for none). Events: delta, status, permission_request,
        question, tool_call, tool_result, done, error. Raises Conflict while another reply of the conversation is in progress, and
        NotFound/Invalid/BudgetExceeded before anything is stored; UpstreamError (502) when the
        provider fails mid-turn (after an `error` event). `permissions` and `max_steps` replace
        the engine's for this turn (a profile's policy and maxTurns)."""
        if not isinstance(content, str) or not content.strip():
            raise Invalid("content must not be empty")
        if self.busy(conversation_id):
            raise Conflict("A reply is in progress in this conversation; send the next message when it has "
                           "finished.", code="REPLY_IN_PROGRESS")
        task = asyncio.current_task()
        self._replying[conversation_id] = task
        live = self.live.open(conversation_id)
        sink = on_event or _no_events

        async def record(event: dict) -> None:
            live.add(event)
            await sink(event)

        try:
            async with self._locks.hold(conversation_id):
                tool_set = tools if isinstance(tools, ToolSet) else ToolSet("conversation", tools)
                return await self._turn(conversation_id, content, source, tool_set, system_extra,
                                        tool_context, record, task, permissions, max_steps)
        finally:
            self._end_reply(conversation_id, task)
            self.live.close(conversation_id, live)

    async def _turn(self, conversation_id: str, content: str, source: str, tools: ToolSet, system_extra: str,
                    tool_context: object, sink: EventSink, task: asyncio.Task | None, permissions,
                    max_steps: int | None) -> Reply:
        conv, last_seq, rows, user_skills = await store.turn_state(self.db, conversation_id)
        # Every event of the turn carries `eventId`, increasing across the turns of one
        # conversation: (last message seq before the turn + 1) * 1e6 + the event's index.
        base = (last_seq + 1) * EVENT_ID_SPAN
        counter = iter(range(1, EVENT_ID_SPAN))
        emitted = False

        async def emit(event: dict) -> None:
            nonlocal emitted
            emitted = True
            if event["type"] in FINAL_EVENTS:  # not busy from here: the next message may be sent
                self._end_reply(conversation_id, task)
            await sink({**event, "eventId": base + next(counter)})

        target = await self.target_for(conv)
        await llm.ensure_loaded()
        user = {"role": "user", "content": content}
        user_tokens = await context.count_soon(target.model, [user])
        turn = Turn(self, conv, target, emit, tools, tool_context, permissions=permissions, max_steps=max_steps)
        try:
            try:
                conv, messages = await self._prompt(conv, rows, user_skills, target, system_extra, user,
                                                    user_tokens, emit)
                turn.conv = conv
                max_tokens = await turn.check_budget(messages)
            except BaseException as exc:
                if not emitted:
                    raise
                # The stream has started (a compaction status): end it with an error, not silence.
                message = await asyncio.shield(turn.fail_before_start(exc, content, source, user_tokens))
                if isinstance(exc, ApiError | asyncio.CancelledError):
                    raise
                raise UpstreamError(message) from None
            await self.db.write(lambda conn: store_user_message(conn, conv, content, source, user_tokens))
            return await turn.run(messages, max_tokens)
        finally:
            await self.budgets.settle(turn.run_key)  # also when the turn never started

    async def _prompt(self, conv: dict, rows: list[dict], user_skills: list[dict], target: ModelTarget,
                      system_extra: str, user: dict, user_tokens: int, emit: EventSink) -> tuple[dict, list[dict]]:
        """(conversation, prompt messages); compacts first when history + the new message reach
        the threshold."""
        system = await self.system_prompt(conv, system_extra, user_skills)
        total = sum(r["token_count"] for r in rows) + user_tokens + await context.count_system_soon(target.model, system)
        if context.stats(total, context.window(target.model, self.context_window))["needsCompaction"]:
            await emit({"type": "status", "phase": "compacting", "message": "Summarising earlier messages"})
            await self._compact(conv, target, context.DEFAULT_KEEP_RECENT)
            conv, _, rows, user_skills = await store.turn_state(self.db, conv["id"])
            system = await self.system_prompt(conv, system_extra, user_skills)
        return conv, [{"role": "system", "content": system}, *[prompt_message(r) for r in rows], user]

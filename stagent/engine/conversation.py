"""The one conversation engine behind Stagent chat, Stan and Lars (app.state.conversations).

A turn (`send`): persist the user message → build the prompt (system prompt from mode,
personality, active skills, the caller's extra text and the compaction summary; then the
messages not yet summarised) → ONE streamed litellm completion with tools → run each tool call
(after Permissions.check_tool) and feed the results back until the model answers → persist
every step with its token count and model, and one usage_ledger row (`chat_turn`).

Invariants:
- turns of one conversation run one at a time (a per-conversation lock), so history is never
  interleaved; compaction takes the same lock;
- the budget is checked before every provider call; a turn that cannot start (unknown
  conversation, no provider, budget) raises before anything is stored;
- every step is committed as it completes (assistant tool calls together with their
  results), so a turn cut off by a crash leaves a replayable history.
"""

from __future__ import annotations

import asyncio

from ..db import Database
from ..db.rows import new_id, now_iso
from ..errors import Invalid, UpstreamError
from ..store import conversations as store
from ..store import settings
from . import chat_tools, context, llm
from .chat_turn import EventSink, Reply, Turn, ledger_entry, prompt_message
from .providers import ModelTarget, resolve_model
from .tools import Tool

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
_BUILTIN_BY_ID = {s["id"]: s for s in BUILTIN_SKILLS}
DEFAULT_SKILLS = {"workflows": ["workflow-builder"]}
# Chat model ids of the Stagent UI (catalog §2.6) -> LiteLLM model strings. Any other id is
# taken as a LiteLLM model string; `ollama:<name>` is the UI's spelling of `ollama/<name>`.
CHAT_MODEL_IDS = {
    "haiku": "anthropic/claude-haiku-4-5", "sonnet": "anthropic/claude-sonnet-4-5",
    "opus": "anthropic/claude-opus-4-5", "gpt-5.4-mini": "openai/gpt-5.4-mini",
    "gpt-5.3-codex": "openai/gpt-5.3-codex", "gpt-5.4": "openai/gpt-5.4",
}
EVENT_ID_SPAN = 1_000_000  # event ids of one turn: (base seq + 1) * span + 1, + 2, ...


def litellm_model(model_id: str) -> str:
    if model_id.startswith("ollama:"):
        return "ollama/" + model_id.split(":", 1)[1]
    return CHAT_MODEL_IDS.get(model_id, model_id)


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
        self._locks: dict[str, asyncio.Lock] = {}
        self._live: dict[str, asyncio.Task] = {}

    # ---- conversations -------------------------------------------------------------------------

    async def create(self, *, mode: str = "chat", model_id: str | None = None, title: str | None = None,
                     project_id: str | None = None, runtime_id: str | None = None, owner: str = "local",
                     conversation_id: str | None = None, personality: str | None = None,
                     active_skills: list[str] | None = None) -> dict:
        _check_personality(personality)
        return await store.create_conversation(self.db, {
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
                       visible_only: bool = False, last: bool = False) -> list[dict]:
        """In order; `after` is a message-id cursor; `last=True` gives the newest `limit`."""
        return await store.list_messages(self.db, conversation_id, limit=limit, after=after,
                                         visible_only=visible_only, last=last)

    async def update(self, conversation_id: str, **fields) -> dict:
        """Change stored fields (title, status, model_id, runtime_id, project_id, mode, ...)."""
        _check_personality(fields.get("personality"))
        return await store.update_conversation(self.db, conversation_id, fields)

    async def set_model(self, conversation_id: str, model_id: str | None, runtime_id: str | None = None) -> dict:
        fields = {"model_id": model_id}
        if runtime_id is not None:
            fields["runtime_id"] = runtime_id
        return await self.update(conversation_id, **fields)

    async def set_personality(self, conversation_id: str, personality: str) -> dict:
        if personality not in PERSONALITIES:
            raise Invalid(f"personality must be one of: {', '.join(PERSONALITIES)}")
        return await self.update(conversation_id, personality=personality)

    async def set_mode(self, conversation_id: str, mode: str) -> dict:
        return await self.update(conversation_id, mode=mode)

    async def delete(self, conversation_id: str) -> None:
        """Delete with its messages; a turn in progress is cancelled first."""
        live = self._live.get(conversation_id)
        if live is not None and not live.done():
            live.cancel()
            await asyncio.wait({live}, timeout=5)
        await store.delete_conversation(self.db, conversation_id)
        self._locks.pop(conversation_id, None)

    def busy(self, conversation_id: str) -> bool:
        live = self._live.get(conversation_id)
        return live is not None and not live.done()

    # ---- skills ----------------------------------------------------------------------------------

    async def skills(self) -> dict:
        """{system: built-in skills, user: user-defined skills}."""
        return {"system": [dict(s) for s in BUILTIN_SKILLS], "user": await store.list_skills(self.db)}

    async def set_skills(self, conversation_id: str, skill_ids: list[str]) -> dict:
        known = {s["id"] for s in BUILTIN_SKILLS} | {s["id"] for s in await store.list_skills(self.db)}
        unknown = [s for s in skill_ids if s not in known]
        if unknown:
            raise Invalid(f"Unknown skill: {', '.join(unknown)}")
        return await self.update(conversation_id, active_skills=list(dict.fromkeys(skill_ids)))

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

    async def _stats(self, conv: dict, model: str, system: str | None = None) -> dict:
        await llm.ensure_loaded()
        system = system if system is not None else await self.system_prompt(conv)
        total = await store.history_tokens(self.db, conv["id"]) + context.count_text(model, "system", system)
        return context.stats(total, context.window(model, self.context_window))

    async def compact(self, conversation_id: str, *, keep_recent: int = context.DEFAULT_KEEP_RECENT) -> dict:
        """Summarise all but the recent messages: {compacted, messagesCompacted, summary, ...}."""
        async with self._lock(conversation_id):
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
            summary_tokens = context.count(target.model, [{"role": "system", "content": summary}])

            def apply(conn):
                store.mark_compacted(conn, conv["id"], older[-1]["seq"], summary=summary,
                                     summary_tokens=summary_tokens)
                status = "completed" if completion.priced else "unknown_pricing"
                store.record_usage(conn, ledger_entry(conv, target, "context_summarization", status,
                                                      completion, started))

            await self.db.write(apply)
        finally:
            await self.budgets.settle(run_key)
        after = await self._stats(await self.get(conv["id"]), target.model)
        return {"compacted": True, "messagesCompacted": sum(1 for r in older if context.is_visible(r)),
                "summary": summary, "totalTokensBefore": before["totalTokens"],
                "totalTokensAfter": after["totalTokens"]}

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # ---- a turn ----------------------------------------------------------------------------------

    async def send(self, conversation_id: str, content: str, *, source: str = "chat",
                   tools: list[Tool] | None = None, system_extra: str = "", tool_context: object = None,
                   on_event: EventSink | None = None) -> Reply:
        """One user message and the assistant's whole answer. `tools=None` is the Stagent chat
        tool set (with a ChatToolContext); pass [] for none. Events: delta, status,
        permission_request, question, tool_call, tool_result, done, error.
        Raises NotFound/Invalid/BudgetExceeded before anything is stored; UpstreamError (502)
        when the provider fails mid-turn (after an `error` event)."""
        if not isinstance(content, str) or not content.strip():
            raise Invalid("content must not be empty")
        sink = on_event or _no_events
        async with self._lock(conversation_id):
            conv, last_seq, rows, user_skills = await store.turn_state(self.db, conversation_id)
            # Every event of the turn carries `eventId`, increasing across the turns of one
            # conversation: (last message seq before the turn + 1) * 1e6 + the event's index.
            base = (last_seq + 1) * EVENT_ID_SPAN
            counter = iter(range(1, EVENT_ID_SPAN))

            async def emit(event: dict) -> None:
                await sink({**event, "eventId": base + next(counter)})

            target = await self.target_for(conv)
            await llm.ensure_loaded()
            toolset = chat_tools.TOOLS if tools is None else list(tools)
            if tool_context is None and tools is None:
                tool_context = chat_tools.ChatToolContext(self.db, self.runner, conv)
            system = await self.system_prompt(conv, system_extra, user_skills)
            total = sum(r["token_count"] for r in rows) + context.count_text(target.model, "system", system)
            if context.stats(total, context.window(target.model, self.context_window))["needsCompaction"]:
                await emit({"type": "status", "phase": "compacting", "message": "Summarising earlier messages"})
                await self._compact(conv, target, context.DEFAULT_KEEP_RECENT)
                conv, _, rows, user_skills = await store.turn_state(self.db, conversation_id)
                system = await self.system_prompt(conv, system_extra, user_skills)
            user = {"role": "user", "content": content}
            messages = [{"role": "system", "content": system}, *[prompt_message(r) for r in rows], user]
            schemas = [t.schema() for t in toolset]
            turn = Turn(self, conv, target, emit, toolset, tool_context)
            max_tokens = await turn.check_budget(messages, schemas)
            self._live[conversation_id] = asyncio.current_task()
            try:
                await self.db.write(lambda conn: self._store_user(conn, conv, content, source, target.model))
                return await turn.run(messages, schemas, max_tokens)
            finally:
                self._live.pop(conversation_id, None)
                await self.budgets.settle(turn.run_key)  # also when the turn never started

    @staticmethod
    def _store_user(conn, conv: dict, content: str, source: str, model: str) -> dict:
        row = store.insert_message(conn, conv["id"], {
            "role": "user", "content": content, "source": source,
            "token_count": context.count(model, [{"role": "user", "content": content}])})
        if conv.get("title"):
            store.touch(conn, conv["id"])
        else:  # the first message names the conversation
            title = " ".join(content.split())
            store.touch(conn, conv["id"], title=title if len(title) <= 60 else title[:57] + "...")
        return row


def _check_personality(personality: str | None) -> None:
    if personality is not None and personality not in PERSONALITIES:
        raise Invalid(f"personality must be one of: {', '.join(PERSONALITIES)}")


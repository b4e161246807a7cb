"""The Stan session: one per user, over one conversation of the shared ConversationEngine.

The single local user is `local`, so the session id is always `stan-local`. The session (its
conversation, model, mode and active workflow) is a settings row, so it survives a restart;
starting a new session replaces it, and the old conversation stays in the history. Stan's
replies come from ConversationEngine.send with the workflow-builder tools of stan_tools.py;
slash commands (slash.py) are answered here without calling the model.
"""

from __future__ import annotations

import json

from ..db import Database
from ..db.rows import loads, now_iso
from ..errors import Conflict, Invalid, NotFound
from ..store import conversations as conversation_store
from ..store import settings
from ..store import workflows as workflow_store
from .context import is_visible
from .conversation import BUILTIN_SKILLS, DEFAULT_PERSONALITY
from .conversation import PERSONALITIES as PERSONALITY_PROMPTS
from .stan_tools import STAN_TOOLS, StanToolContext, workflow_url

USER = "local"
SESSION_ID = f"stan-{USER}"
MODE = "workflows"
PERSONALITIES = tuple(PERSONALITY_PROMPTS)  # professional, friendly, concise
RESUME_MESSAGES = 50
SESSION_KEY = "stan.session"
PERSONALITY_KEY = "stan.personality"

NO_SESSION = "No active Stan session. Start one with POST /api/v1/stan/sessions {\"modelId\": ...}."

# Display names of the model ids the UIs offer; any other id is shown without its provider prefix.
MODEL_NAMES = {
    "haiku": "Claude Haiku", "sonnet": "Claude Sonnet", "opus": "Claude Opus",
    "gpt-5.4-mini": "GPT-5.4 mini", "gpt-5.3-codex": "GPT-5.3 Codex", "gpt-5.4": "GPT-5.4",
    "gpt-4.1": "GPT-4.1",
}


def model_name(model_id: str | None) -> str | None:
    if not model_id:
        return None
    return MODEL_NAMES.get(model_id) or MODEL_NAMES.get(model_id.split("/", 1)[-1]) or model_id.split("/", 1)[-1]


def check_personality(value: str) -> str:
    if value not in PERSONALITIES:
        raise Invalid(f"Unknown personality '{value}'. Use one of: {', '.join(PERSONALITIES)}",
                      code="INVALID_PERSONALITY")
    return value


class Stan:
    """Stateless over the database and the engine: build one per request."""

    def __init__(self, db: Database, conversations) -> None:
        self.db = db
        self.engine = conversations

    # ---- the session row ---------------------------------------------------------------------
    async def current(self) -> dict | None:
        """The session, or None (also when its conversation was deleted elsewhere)."""
        raw = (await settings.get_many(self.db, [SESSION_KEY]))[SESSION_KEY]
        try:
            session = json.loads(raw) if raw else None
        except ValueError:
            session = None
        if not isinstance(session, dict) or not session.get("conversationId"):
            return None
        try:
            await self.engine.get(session["conversationId"])
        except NotFound:
            return None
        return session

    async def save(self, session: dict) -> None:
        await settings.set_many(self.db, {SESSION_KEY: json.dumps(session)})

    async def _save_active_workflow(self, session: dict) -> None:
        """A tool changed the active workflow: record it, unless the session was replaced meanwhile."""
        current = await self.current()
        if current is not None and current["conversationId"] == session["conversationId"]:
            current["activeWorkflowId"] = session.get("activeWorkflowId")
            current["activeWorkflowName"] = session.get("activeWorkflowName")
            await self.save(current)

    async def require(self, session_id: str | None = None) -> dict:
        session = await self.current()
        if session is None or (session_id is not None and session_id != SESSION_ID):
            message = f"Stan session '{session_id}' not found. {NO_SESSION}" if session_id else NO_SESSION
            raise NotFound(message, code="SESSION_NOT_FOUND")
        return session

    async def describe(self, session: dict) -> dict:
        workflow_id = session.get("activeWorkflowId")
        workflow_name = session.get("activeWorkflowName")
        if workflow_id:
            try:
                workflow_name = (await workflow_store.get_workflow(self.db, workflow_id))["name"]
            except NotFound:
                pass  # deleted since; the session keeps pointing at what the user chose
        conversation = await self.engine.get(session["conversationId"])
        return {"id": SESSION_ID, "sessionId": SESSION_ID, "mode": session["mode"], "modelId": session["modelId"],
                "modelName": model_name(session["modelId"]), "activeWorkflowId": workflow_id,
                "activeWorkflowName": workflow_name,
                "messageCount": conversation.get("messageCount", 0), "workflowId": workflow_id,
                "conversationId": session["conversationId"], "createdAt": session.get("createdAt")}

    # ---- lifecycle -----------------------------------------------------------------------------
    async def start(self, *, model_id: str | None = None, active_workflow_id: str | None = None,
                    active_workflow_name: str | None = None, mode: str = MODE) -> dict:
        """Start a session (replacing any other); no model id means the default model."""
        if not model_id:  # the same default as Stagent chat: chat.defaultModel, else the daemon's
            model_id = (await self.engine.target_for({})).model
        if active_workflow_id:
            active_workflow_name = (await workflow_store.get_workflow(self.db, active_workflow_id))["name"]
        elif active_workflow_name:
            workflow = await workflow_store.create_workflow(self.db, name=active_workflow_name)
            active_workflow_id, active_workflow_name = workflow["id"], workflow["name"]
        conversation = await self.engine.create(mode=mode, model_id=model_id, owner=USER,
                                                personality=await self.personality(),
                                                title=active_workflow_name)
        session = {"conversationId": conversation["id"], "modelId": model_id, "mode": mode,
                   "activeWorkflowId": active_workflow_id, "activeWorkflowName": active_workflow_name,
                   "createdAt": now_iso()}
        await self.save(session)
        return session

    async def end(self, session_id: str) -> dict:
        session = await self.require(session_id)
        await settings.set_many(self.db, {SESSION_KEY: None})
        workflow_id = session.get("activeWorkflowId")
        return {"ended": True, "workflowId": workflow_id,
                "workflowUrl": workflow_url(workflow_id) if workflow_id else None}

    # ---- messages ------------------------------------------------------------------------------
    async def send(self, message: str, *, session_id: str | None = None, source: str = "chat") -> dict:
        """A message to Stan: a slash command is answered here; anything else goes to the model."""
        from . import slash  # slash imports this module

        if session_id is None and await self.current() is None:
            try:
                await self.start()
            except Invalid:
                if not slash.is_command(message):
                    raise  # no provider configured: the message cannot be answered
        else:
            await self.require(session_id)
        answered = await slash.run(self, message)
        if answered is not None:
            return answered
        session = await self.require()
        context = StanToolContext(self.db, session, self._save_active_workflow)
        reply = await self.engine.send(session["conversationId"], message, source=source,
                                       tools=STAN_TOOLS, tool_context=context,
                                       system_extra=await self._workflow_brief(session))
        return {"content": reply.content, "isComplete": reply.is_complete,
                "toolCalls": [{"id": c.get("id"), "name": c["name"], "arguments": c.get("arguments"),
                               "result": c.get("result")} for c in reply.tool_calls],
                "resources": context.resources(), "messageId": reply.message_id, "model": reply.model,
                "usage": reply.usage}

    async def _workflow_brief(self, session: dict) -> str:
        """What the model must know to edit the active workflow: its nodes and their ids."""
        lines = ["Workflow nodes are steps (types agent, approval) and triggers (webhook-trigger, "
                 "schedule-trigger); refer to nodes by their ids."]
        workflow_id = session.get("activeWorkflowId")
        if workflow_id:
            try:
                workflow = await workflow_store.get_workflow(self.db, workflow_id)
            except NotFound:
                workflow = None
            if workflow is not None:
                definition = workflow["definition"]
                lines.append(f"Active workflow: {workflow['name']} (id {workflow['id']}, {workflow['status']}). "
                             f"Steps: {json.dumps(definition['steps'])}. "
                             f"Triggers: {json.dumps(definition['triggers'])}.")
        else:
            lines.append("No workflow is active yet.")
        return "\n".join(lines)

    # ---- personality ---------------------------------------------------------------------------
    async def personality(self) -> str:
        stored = (await settings.get_many(self.db, [PERSONALITY_KEY]))[PERSONALITY_KEY]
        return stored if stored in PERSONALITIES else DEFAULT_PERSONALITY

    async def set_personality(self, value: str) -> str:
        check_personality(value)
        await settings.set_many(self.db, {PERSONALITY_KEY: value})
        session = await self.current()
        if session is not None:
            await self.engine.set_personality(session["conversationId"], value)
        return value

    # ---- skills ----------------------------------------------------------------------------------
    async def skills(self) -> dict:
        system = [{"id": s.get("id"), "name": s["name"], "category": s["category"],
                   "description": s["description"]} for s in BUILTIN_SKILLS]
        user = [_user_skill(s) for s in await conversation_store.list_skills(self.db)]
        return {"system": system, "user": user}

    async def skill(self, skill_id: str) -> dict:
        return _user_skill(await conversation_store.get_skill(self.db, skill_id))

    async def _check_name_free(self, name: str | None) -> None:
        if name is not None and any(s["name"] == name for s in BUILTIN_SKILLS):
            raise Conflict(f"'{name}' is a built-in skill; choose another name", code="SKILL_EXISTS")

    async def create_skill(self, fields: dict) -> dict:
        await self._check_name_free(fields["name"])
        return _user_skill(await conversation_store.create_skill(self.db, fields))

    async def update_skill(self, skill_id: str, fields: dict) -> dict:
        await self._check_name_free(fields.get("name"))
        if fields.get("name") is not None and any(
                s["name"] == fields["name"] and s["id"] != skill_id
                for s in await conversation_store.list_skills(self.db)):
            raise Conflict(f"A skill named '{fields['name']}' already exists", code="SKILL_EXISTS")
        return _user_skill(await conversation_store.update_skill(self.db, skill_id, fields))

    async def delete_skill(self, skill_id: str) -> None:
        await conversation_store.delete_skill(self.db, skill_id)

    # ---- model, context, compaction --------------------------------------------------------------
    async def set_model(self, model_id: str) -> dict:
        session = await self.require()
        await self.engine.set_model(session["conversationId"], model_id)
        session["modelId"] = model_id
        await self.save(session)
        return session

    async def context(self) -> dict:
        session = await self.current()
        if session is None:
            return {"active": False, "message": "No active session"}
        return {"active": True, **await self.engine.context_stats(session["conversationId"])}

    async def compact(self) -> dict:
        session = await self.current()
        if session is None:
            raise Conflict("No active Stan session to compact: compaction needs an active LLM session. "
                           "Start one with POST /api/v1/stan/sessions or send a message to "
                           "POST /api/v1/stan/message.", code="NO_ACTIVE_SESSION")
        result = await self.engine.compact(session["conversationId"])
        count = result.get("messagesCompacted", 0)
        return {**result, "compacted": count > 0, "messagesCompacted": count}

    # ---- past conversations ------------------------------------------------------------------------
    def _conversation(self, conversation: dict) -> dict:
        return {"id": conversation["id"], "title": conversation.get("title"), "mode": conversation.get("mode"),
                "modelId": conversation.get("modelId"), "modelName": model_name(conversation.get("modelId")),
                "messageCount": conversation.get("messageCount", 0),
                "createdAt": conversation.get("createdAt"), "updatedAt": conversation.get("updatedAt")}

    async def conversations(self, limit: int = 20) -> list[dict]:
        return [self._conversation(c) for c in await self.engine.list(owner=USER, limit=limit)]

    async def conversation(self, conversation_id: str) -> dict:
        conversation = self._conversation(await self.engine.get(conversation_id))
        messages = await self.engine.messages(conversation_id, visible_only=True)
        conversation["messages"] = [_message(m) for m in messages]
        return conversation

    async def resume(self, conversation_id: str) -> dict:
        """Make a past conversation the session's: its model and mode, its last 50 messages."""
        conversation = await self.engine.get(conversation_id)
        previous = await self.current() or {}
        reloaded = await self._reload_recent(conversation)
        await self.engine.set_personality(conversation_id, await self.personality())  # the user's preset
        model_id = conversation.get("modelId") or previous.get("modelId")
        session = {"conversationId": conversation_id, "modelId": model_id,
                   "mode": conversation.get("mode") or MODE,
                   "activeWorkflowId": previous.get("activeWorkflowId"),
                   "activeWorkflowName": previous.get("activeWorkflowName"), "createdAt": now_iso()}
        await self.save(session)
        return {"resumed": True, "title": conversation.get("title"), "mode": session["mode"],
                "modelId": model_id, "modelName": model_name(model_id),
                "messageCount": conversation.get("messageCount", 0), "messagesReloaded": reloaded,
                "conversationId": conversation_id, "sessionId": SESSION_ID}

    async def _reload_recent(self, conversation: dict) -> int:
        """Keep at most the last 50 messages in the model's context; older ones stay in history.

        Messages before the cut are flagged as summarised (the existing summary is kept), like
        compaction does; the cut moves forward to a user message so a tool call is never
        separated from its result. Returns how many messages the session replays.
        """
        rows = await conversation_store.prompt_rows(self.db, conversation["id"])
        visible = [i for i, row in enumerate(rows) if is_visible(row)]
        if len(visible) <= RESUME_MESSAGES:
            return len(visible)
        cut = visible[-RESUME_MESSAGES]
        while cut < len(rows) and rows[cut]["role"] != "user":
            cut += 1
        through = rows[cut - 1]["seq"]
        await self.db.write(lambda conn: conversation_store.mark_compacted(
            conn, conversation["id"], through, summary=conversation.get("summary"),
            summary_tokens=conversation.get("summaryTokens") or 0))
        return sum(1 for i in visible if i >= cut)


def _user_skill(skill: dict) -> dict:
    return {key: skill.get(key) for key in ("id", "name", "category", "description", "instructions",
                                            "active", "createdAt", "updatedAt")}


def _message(message: dict) -> dict:
    metadata = loads(message.get("metadata"), {}) or {}
    return {"id": message["id"], "role": message["role"], "content": message.get("content"),
            "source": message.get("source"), "toolCalls": metadata.get("toolCalls") or [],
            "status": message.get("status"), "createdAt": message.get("createdAt")}

"""The Stan session: one per user, over one conversation of the shared ConversationEngine.

The single local user is `local`, so the session id is always `stan-local`. The session (its
conversation, model, mode and active workflow) is a settings row, so it survives a restart;
starting a new session replaces it, and the old conversation stays in the history. Every
change of one field of the row is one read-modify-write transaction
(store.conversations.update_json_setting), so concurrent changes never lose each other.
Stan's replies come from ConversationEngine.send with the workflow-builder tools (STAN_TOOLS,
filled by tools.py), run under the supervisor (a deleted conversation cancels that task, not the
HTTP request); slash commands (slash.py) are answered here without calling the model.
"""

from __future__ import annotations

import asyncio
import json

from ...db import Database
from ...db.rows import loads, new_id, now_iso
from ...errors import ApiError, Conflict, NotFound
from ...events import EventBus, WorkflowDefinitionChanged
from ...store import conversations as conversation_store
from ...store import settings
from ...store import workflows as workflow_store
from ..chat.conversation import BUILTIN_SKILLS, DEFAULT_PERSONALITY, check_personality
from ..chat.conversation import PERSONALITIES as PERSONALITY_PROMPTS
from ..chat.models import check_model, model_name
from .tools import STAN_TOOLS, StanToolContext, workflow_url

USER = "local"
SESSION_ID = f"stan-{USER}"
MODE = "workflows"
PERSONALITIES = tuple(PERSONALITY_PROMPTS)  # professional, friendly, concise
RESUME_MESSAGES = 50
SESSION_KEY = "stan.session"
PERSONALITY_KEY = "stan.personality"

NO_SESSION = "No active Stan session. Start one with POST /api/v1/stan/sessions {\"modelId\": ...}."


class Stan:
    """Stateless over the database and the engine: build one per request."""

    def __init__(self, db: Database, conversations, supervisor, events: EventBus | None = None) -> None:
        self.db = db
        self.engine = conversations
        self.supervisor = supervisor
        self.events = events

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

    async def _update(self, conversation_id: str, **fields) -> dict | None:
        """Set fields of the session in one transaction, unless it was replaced meanwhile (it
        then points at another conversation, or there is none)."""

        def change(session: dict | None) -> dict | None:
            if session is None or session.get("conversationId") != conversation_id:
                return None
            return {**session, **fields}

        return await conversation_store.update_json_setting(self.db, SESSION_KEY, change)

    async def record_active_workflow(self, session: dict) -> None:
        """A tool changed the active workflow: record it, unless the session was replaced meanwhile."""
        await self._update(session["conversationId"], activeWorkflowId=session.get("activeWorkflowId"),
                           activeWorkflowName=session.get("activeWorkflowName"))

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
        """A message to Stan: a slash command is answered here; anything else goes to the model.
        With `session_id` (the session route) the session must exist; without (POST /message)
        a model message starts one, a command does not."""
        from ..chat import slash  # slash imports this module

        session = await self.require(session_id) if session_id is not None else None
        answered = await slash.run(self, message)
        if answered is not None:
            return answered
        if session is None:
            session = await self.current() or await self.start()
        return await self._reply(session, message, source)

    async def _reply(self, session: dict, message: str, source: str) -> dict:
        conversation_id = session["conversationId"]
        context = StanToolContext(self.db, session, self.record_active_workflow)
        system_extra = await self._workflow_brief(session)

        async def turn():
            try:
                return await self.engine.send(conversation_id, message, source=source, tools=STAN_TOOLS,
                                              tool_context=context, system_extra=system_extra), None
            except ApiError as exc:  # answered by the request, not logged as a crash
                return None, exc

        # Under the supervisor, like a chat turn: deleting the conversation cancels the turn's
        # task, not this request, and a client that leaves does not cut the reply short.
        task = self.supervisor.start(f"stan-turn:{conversation_id}:{new_id()}", turn())
        await asyncio.wait({task})
        if self.events is not None:  # the workflows' triggers follow the edited nodes
            for workflow_id in context.touched:
                self.events.publish(WorkflowDefinitionChanged(workflow_id))
        if task.cancelled():
            await self._interrupted(conversation_id)
        reply, error = task.result()
        if error is not None:
            raise error
        return {"content": reply.content, "isComplete": reply.is_complete,
                "toolCalls": [{"id": c.get("id"), "name": c["name"], "arguments": c.get("arguments"),
                               "result": c.get("result")} for c in reply.tool_calls],
                "resources": context.resources(), "messageId": reply.message_id, "model": reply.model,
                "usage": reply.usage}

    async def _interrupted(self, conversation_id: str) -> None:
        """The turn was cancelled: its conversation was deleted, or the daemon is stopping."""
        deleted = self.engine.being_deleted(conversation_id)
        if not deleted:
            try:
                await self.engine.get(conversation_id)
            except NotFound:
                deleted = True
        if deleted:
            raise NotFound("The session's conversation was deleted while Stan was replying. " + NO_SESSION,
                           code="SESSION_NOT_FOUND")
        raise Conflict("Stan's reply was interrupted before it finished; send the message again.",
                       code="REPLY_INTERRUPTED")

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

    @staticmethod
    def _check_not_builtin(name: str | None) -> None:
        """Names of user skills are unique among themselves in the store's transaction."""
        if name is not None and any(s["name"] == name for s in BUILTIN_SKILLS):
            raise Conflict(f"'{name}' is a built-in skill; choose another name", code="SKILL_EXISTS")

    async def create_skill(self, fields: dict) -> dict:
        self._check_not_builtin(fields["name"])
        return _user_skill(await conversation_store.create_skill(self.db, fields))

    async def update_skill(self, skill_id: str, fields: dict) -> dict:
        self._check_not_builtin(fields.get("name"))
        return _user_skill(await conversation_store.update_skill(self.db, skill_id, fields))

    async def delete_skill(self, skill_id: str) -> None:
        await conversation_store.delete_skill(self.db, skill_id)

    # ---- model, context, compaction --------------------------------------------------------------
    async def set_model(self, model_id: str) -> dict:
        session = await self.require()
        model_id = await check_model(self.db, model_id, field="modelId")
        await self.engine.set_model(session["conversationId"], model_id)
        return await self._update(session["conversationId"], modelId=model_id) or {**session, "modelId": model_id}

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
        reloaded = await self.engine.keep_recent(conversation_id, RESUME_MESSAGES)
        await self.engine.set_personality(conversation_id, await self.personality())  # the user's preset

        def replace(previous: dict | None) -> dict:  # in the row's transaction: keeps a concurrent change
            previous = previous or {}
            return {"conversationId": conversation_id,
                    "modelId": conversation.get("modelId") or previous.get("modelId"),
                    "mode": conversation.get("mode") or MODE,
                    "activeWorkflowId": previous.get("activeWorkflowId"),
                    "activeWorkflowName": previous.get("activeWorkflowName"), "createdAt": now_iso()}

        session = await conversation_store.update_json_setting(self.db, SESSION_KEY, replace)
        return {"resumed": True, "title": conversation.get("title"), "mode": session["mode"],
                "modelId": session["modelId"], "modelName": model_name(session["modelId"]),
                "messageCount": conversation.get("messageCount", 0), "messagesReloaded": reloaded,
                "conversationId": conversation_id, "sessionId": SESSION_ID}


def _user_skill(skill: dict) -> dict:
    return {key: skill.get(key) for key in ("id", "name", "category", "description", "instructions",
                                            "active", "createdAt", "updatedAt")}


def _message(message: dict) -> dict:
    metadata = loads(message.get("metadata"), {}) or {}
    return {"id": message["id"], "role": message["role"], "content": message.get("content"),
            "source": message.get("source"), "toolCalls": metadata.get("toolCalls") or [],
            "status": message.get("status"), "createdAt": message.get("createdAt")}

"""/api/chat: 11 endpoints, and two extensions: cancel the reply in progress, and read it again (stream). Conversations, history, the streamed reply (SSE), permission
answers, @-mention search, the model catalogue and suggested prompts.

The reply stream: validation, an unknown conversation, a reply still in progress (409), a
missing provider or a budget cap answer as ordinary JSON before the stream starts; then `data: <json>` frames, each with an
`id:` (the turn's eventId, increasing across the conversation) and `: keepalive` comments.
The turn runs under the supervisor, so a client that goes away does not cut the reply short:
it is stored, and GET …/messages?after= reads it.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Literal

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ..engine.agent.providers import RUNTIME_IDS
from ..engine.chat.conversation import PERSONALITIES
from ..engine.chat.model_lists import model_list
from ..engine.chat.stagent_chat import ChatReply, StagentChat
from ..errors import Conflict, Invalid, NotFound
from ..store import conversations as store
from ._http import Body, Int, Out, RuntimeId, endpoint, ok, read_body, read_query, validate_body
from ._sse import json_frame, last_event_id, sequence_number, sse_response

ConversationStatus = Literal["active", "archived"]
Personality = Literal[tuple(PERSONALITIES)]  # extension: the UI's personality picker


class ConversationCreate(Body):
    runtime_id: RuntimeId
    project_id: str | None = None
    title: str | None = Field(default=None, max_length=200)
    model_id: str | None = Field(default=None, max_length=200)
    personality: Personality | None = None
    agent_profile: str | None = Field(default=None, max_length=100)  # extension: shapes every turn


class ConversationUpdate(Body):
    title: str | None = Field(default=None, max_length=200)
    status: ConversationStatus = None
    model_id: str | None = Field(default=None, max_length=200)
    runtime_id: RuntimeId = None
    personality: Personality = None
    agent_profile: str | None = Field(default=None, max_length=100)  # extension; "" or null clears it


class ConversationListQuery(Body):
    status: ConversationStatus | None = None
    project_id: str | None = None
    limit: Int | None = Field(default=None, ge=1, le=1000)
    mode: str = "chat"  # extension: Stan's conversations are mode `workflows`; `all` lists every mode


class MessagesQuery(Body):
    after: str | None = None
    limit: Int | None = Field(default=None, ge=1, le=1000)
    include_steps: bool = False  # extension: also the tool results and tool-call steps


class StreamQuery(Body):
    after: str | None = None  # an eventId of the turn; Last-Event-ID does the same


class Mention(Body):
    entity_type: str = Field(max_length=50)
    entity_id: str = Field(max_length=200)
    label: str | None = Field(default=None, max_length=500)


class MessageSend(Body):
    content: str = Field(min_length=1, max_length=200_000)
    mentions: list[Mention] | None = Field(default=None, max_length=20)


class RespondRequest(Body):
    request_id: str = Field(min_length=1)
    behavior: Literal["allow", "deny"]
    message_id: str | None = None
    updated_input: dict | None = None
    message: str | None = None
    always_allow: bool | None = None
    permission_pattern: str | None = None
    tool_name: str | None = None
    tool_input: dict | None = None


class EntitySearchQuery(Body):
    q: str = Field(default="", max_length=200)
    limit: Int = Field(default=20, ge=1)


class ConversationOut(Out):
    id: str
    projectId: str | None
    title: str | None
    runtimeId: str | None
    modelId: str | None
    status: Literal["active", "archived"]
    agentProfile: str | None = None  # extension
    createdAt: str
    updatedAt: str


class MessageOut(Out):
    id: str
    conversationId: str
    role: str
    content: str
    metadata: str | None
    status: str
    createdAt: str


def _engine(request):
    return request.app.state.conversations


def _check_status(status: str | None) -> None:
    if status is not None and status not in store.CONVERSATION_STATUSES:
        raise Invalid(f"Invalid status. Must be one of: {', '.join(store.CONVERSATION_STATUSES)}")


def _check_runtime(runtime_id: str) -> None:
    if runtime_id not in RUNTIME_IDS:
        raise Invalid(f"Invalid runtimeId. Must be one of: {', '.join(RUNTIME_IDS)}")


@endpoint(query=ConversationListQuery, response=list[ConversationOut], errors=(400,))
async def list_conversations(request):
    """Conversations, most recently updated first."""
    _check_status(request.query_params.get("status"))
    query = read_query(request, ConversationListQuery)
    return ok(await _engine(request).list(status=query.status, project_id=query.project_id, limit=query.limit,
                                          mode=None if query.mode == "all" else query.mode))


@endpoint(body=ConversationCreate, response=ConversationOut, status=201, errors=(400,))
async def create_conversation(request):
    """Create a conversation (status active)."""
    data = await read_body(request)
    runtime_id = data.get("runtimeId")
    if runtime_id is None or runtime_id == "":
        raise Invalid("runtimeId is required")  # the documented plain messages first
    if isinstance(runtime_id, str):
        _check_runtime(runtime_id)
    body = validate_body(ConversationCreate, data)
    conv = await _engine(request).create(mode="chat", runtime_id=body.runtime_id, project_id=body.project_id,
                                         title=body.title, model_id=body.model_id, personality=body.personality,
                                         agent_profile=body.agent_profile)
    return ok(conv, 201)


@endpoint(response=ConversationOut, errors=(404,))
async def get_conversation(request):
    """One conversation with its messageCount; `replying` (extension) while a reply is written."""
    engine = _engine(request)
    conv = await engine.get(request.path_params["id"])
    return ok({**conv, "replying": engine.busy(conv["id"])})


@endpoint(body=ConversationUpdate, response=ConversationOut, errors=(400, 404))
async def update_conversation(request):
    """Rename, archive, or change the model/runtime of a conversation."""
    data = await read_body(request)
    if isinstance(data.get("runtimeId"), str):
        _check_runtime(data["runtimeId"])
    if isinstance(data.get("status"), str):
        _check_status(data["status"])
    fields = validate_body(ConversationUpdate, data).given()
    return ok(await _engine(request).update(request.path_params["id"], **fields))


@endpoint(status=204, errors=(404,))
async def delete_conversation(request):
    """Delete a conversation with its messages (a reply in progress is stopped)."""
    await _engine(request).delete(request.path_params["id"])
    return Response(status_code=204)


@endpoint(query=MessagesQuery, response=list[MessageOut], errors=(400, 404))
async def list_messages(request):
    """History in order; `after` is a message id cursor."""
    query = read_query(request, MessagesQuery)
    return ok(await _engine(request).messages(request.path_params["id"], limit=query.limit, after=query.after,
                                              visible_only=not query.include_steps))


@endpoint(body=MessageSend, errors=(400, 404, 409, 429), content_type="text/event-stream")
async def send_message(request):
    """Send a user message; the assistant's turn streams back as SSE. 409 while the previous
    reply of this conversation is still in progress (e.g. waiting on a permission)."""
    body = await read_body(request, MessageSend)
    if not body.content.strip():
        raise Invalid("Validation failed", field_errors={"content": ["Content must not be blank"]}, form_errors=[])
    state = request.app.state
    chat = StagentChat(state.db, state.conversations, state.runner, state.supervisor)
    reply = await chat.reply(request.path_params["id"], body.content,
                             [m.model_dump(by_alias=True) for m in body.mentions or []])
    return sse_response(request.app, _frames(reply, state.sse_shutdown))


async def _frames(reply: ChatReply, shutdown):
    async with aclosing(reply.events(shutdown)) as events:
        async for event in events:
            yield json_frame(event, id=event["eventId"])


@endpoint(errors=(404,))
async def cancel_reply(request):
    """Stop the reply in progress (extension): it is stored as interrupted and its stream ends
    with an `error` event. `cancelled` is false when no reply was in progress."""
    return ok({"ok": True, "cancelled": await _engine(request).cancel(request.path_params["id"])})


@endpoint(query=StreamQuery, status=200, errors=(400, 404), content_type="text/event-stream")
async def stream_reply(request):
    """The reply in progress as SSE (extension): its events after `after` (or Last-Event-ID), then
    each new one until `done` or `error`. 204 when no reply is in progress."""
    engine = _engine(request)
    conversation_id = request.path_params["id"]
    await engine.get(conversation_id)
    query = read_query(request, StreamQuery)
    after = last_event_id(request, unit="event id")
    if query.after is not None:
        after = sequence_number(query.after, name="after", unit="event id")
    live = engine.live.get(conversation_id)
    if live is None:
        return Response(status_code=204)
    return sse_response(request.app, _follow(live, after or 0))


async def _follow(live, after: int):
    async for event in live.follow(after):
        yield json_frame(event, id=event["eventId"])
        if event["type"] in ("done", "error"):
            return


@endpoint(body=RespondRequest, errors=(400, 404))
async def respond(request):
    """Answer a permission request of the live turn; `stale` when nothing waits on it any more,
    or there is no such request (404 only for an unknown conversation)."""
    conversation_id = request.path_params["id"]
    await _engine(request).get(conversation_id)
    data = await read_body(request, not_object="requestId is required")
    if not isinstance(data.get("requestId"), str) or not data["requestId"]:
        raise Invalid("requestId is required")
    body = validate_body(RespondRequest, data)
    permissions = request.app.state.permissions
    waiting = permissions.waiting_on(body.request_id)
    message = body.message
    if body.behavior == "deny" and not message:
        message = "User denied this action"
    try:
        await permissions.respond(
            body.request_id, behavior=body.behavior, message=message,
            updated_input=body.updated_input if body.behavior == "allow" else None,
            always_allow=bool(body.always_allow), permission_pattern=body.permission_pattern,
            conversation_id=conversation_id)
    except (Conflict, NotFound):  # answered already, timed out, or no such request: as the catalog
        return ok({"ok": True, "stale": True})
    return ok({"ok": True, "stale": not waiting})


@endpoint(query=EntitySearchQuery, errors=(400,))
async def search_entities(request):
    """@-mention autocomplete over projects, tasks, workflows, documents, schedules, tables."""
    query = read_query(request, EntitySearchQuery)
    results = await store.search_entities(request.app.state.db, query.q.strip(), min(query.limit, 30))
    return ok({"results": results})


@endpoint()
async def list_models(request):
    """The chat model catalogue: the models each configured provider serves (an OpenAI-compatible
    server's /models, Ollama's tags), the built-in models, the configured defaults; extension
    fields `available` (its provider is set up), `source` and `default`."""
    return ok(await model_list(request.app.state.db))


SUGGESTED_PROMPTS = [
    {"id": "explore", "label": "Explore", "icon": "compass", "prompts": [
        {"label": "What's in progress?", "prompt": "Which tasks are running or queued right now?"},
        {"label": "Project overview", "prompt": "Give me an overview of my projects and their open tasks."}]},
    {"id": "create", "label": "Create", "icon": "plus", "prompts": [
        {"label": "Plan a task", "prompt": "Create a task to "},
        {"label": "New project", "prompt": "Create a project called "}]},
    {"id": "automate", "label": "Automate", "icon": "clock", "prompts": [
        {"label": "What runs when?", "prompt": "List my schedules and when they fire next."},
        {"label": "Workflows", "prompt": "Which workflows do I have, and what state are they in?"}]},
    {"id": "debug", "label": "Debug", "icon": "bug", "prompts": [
        {"label": "Failed tasks", "prompt": "Which tasks failed recently, and why?"}]},
]


@endpoint()
async def suggested_prompts(request):
    """Prompt categories for the composer."""
    return ok(SUGGESTED_PROMPTS)


routes = [
    Route("/api/chat/conversations", list_conversations, methods=["GET"]),
    Route("/api/chat/conversations", create_conversation, methods=["POST"]),
    Route("/api/chat/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/chat/conversations/{id}", update_conversation, methods=["PATCH"]),
    Route("/api/chat/conversations/{id}", delete_conversation, methods=["DELETE"]),
    Route("/api/chat/conversations/{id}/messages", list_messages, methods=["GET"]),
    Route("/api/chat/conversations/{id}/messages", send_message, methods=["POST"]),
    Route("/api/chat/conversations/{id}/respond", respond, methods=["POST"]),
    Route("/api/chat/conversations/{id}/cancel", cancel_reply, methods=["POST"]),
    Route("/api/chat/conversations/{id}/stream", stream_reply, methods=["GET"]),
    Route("/api/chat/entities/search", search_entities, methods=["GET"]),
    Route("/api/chat/models", list_models, methods=["GET"]),
    Route("/api/chat/suggested-prompts", suggested_prompts, methods=["GET"]),
]

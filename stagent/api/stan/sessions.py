"""/api/v1/stan/sessions (create/get/delete, messages) and the universal /api/v1/stan/message.

Stan session model and node mapping: docs/decisions/009-stan-sessions-and-workflow-nodes.md.
"""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...engine.chat.models import MODEL_ID_SCHEMA, check_model
from ...engine.stan.session import Stan
from .._http import Body, Out, endpoint, ok, read_body


class SessionCreate(Body):
    model_id: str = Field(min_length=1, max_length=200, json_schema_extra=MODEL_ID_SCHEMA)
    active_workflow_id: str | None = Field(default=None, min_length=1, max_length=200)
    active_workflow_name: str | None = Field(default=None, min_length=1, max_length=200)


class SessionMessage(Body):
    message: str = Field(min_length=1, max_length=100_000)


class UniversalMessage(SessionMessage):
    source: str = Field(default="chat", min_length=1, max_length=50)


class SessionOut(Out):
    sessionId: str
    mode: str
    modelId: str
    modelName: str | None
    activeWorkflowId: str | None
    activeWorkflowName: str | None
    messageCount: int
    workflowId: str | None


class ToolCallOut(Out):
    name: str
    arguments: dict | str | None


class ReplyOut(Out):
    content: str
    isComplete: bool
    toolCalls: list[ToolCallOut]
    resources: dict
    command: str | None = None


class EndedOut(Out):
    ended: bool
    workflowId: str | None
    workflowUrl: str | None


def stan(request) -> Stan:
    """Authorise (scope stan:execute), then the Stan facade over this daemon's engine."""
    state = request.app.state
    return Stan(state.db, state.conversations, state.supervisor, state.events)


@endpoint(body=SessionCreate, response=SessionOut, status=201, errors=(400, 401, 403, 404))
async def create_session(request):
    """Start the Stan session (one per user: a new one replaces the current one). modelId must be
    a model GET /api/chat/models lists or `<provider>/<model>` of a configured provider."""
    facade = stan(request)
    body = await read_body(request, SessionCreate)
    model_id = await check_model(request.app.state.db, body.model_id, field="modelId")
    session = await facade.start(model_id=model_id, active_workflow_id=body.active_workflow_id,
                                 active_workflow_name=body.active_workflow_name)
    return ok(await facade.describe(session), 201)


@endpoint(response=SessionOut, errors=(401, 403, 404))
async def get_session(request):
    """The current Stan session."""
    facade = stan(request)
    return ok(await facade.describe(await facade.require(request.path_params["id"])))


@endpoint(response=EndedOut, errors=(401, 403, 404))
async def end_session(request):
    """End the session; answers the workflow it was editing."""
    facade = stan(request)
    return ok(await facade.end(request.path_params["id"]))


@endpoint(body=SessionMessage, response=ReplyOut, errors=(401, 403, 404, 409, 502))
async def send_session_message(request):
    """Send a message to Stan in the session; tool calls edit the real workflows. 409 while
    another reply of the session is in progress, or when the reply was interrupted."""
    facade = stan(request)
    body = await read_body(request, SessionMessage)
    return ok(await facade.send(body.message, session_id=request.path_params["id"]))


@endpoint(body=UniversalMessage, response=ReplyOut, errors=(400, 401, 403, 404, 409, 502))
async def send_message(request):
    """Universal Stan message endpoint with slash commands; a model message starts a session
    when there is none (400 NO_PROVIDER when no model is configured)."""
    facade = stan(request)
    body = await read_body(request, UniversalMessage)
    return ok(await facade.send(body.message, source=body.source))


routes = [
    Route("/api/v1/stan/sessions", create_session, methods=["POST"]),
    Route("/api/v1/stan/sessions/{id}", get_session, methods=["GET"]),
    Route("/api/v1/stan/sessions/{id}", end_session, methods=["DELETE"]),
    Route("/api/v1/stan/sessions/{id}/messages", send_session_message, methods=["POST"]),
    Route("/api/v1/stan/message", send_message, methods=["POST"]),
]

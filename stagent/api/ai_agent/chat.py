"""POST /api/ai-agent/chat: a message to Lars; the reply with the actions it suggests and the
clients it names (docs/decisions/015-lars.md)."""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...errors import Invalid
from .._http import Body, Out, endpoint, read_body
from ._surface import ERRORS, lars_endpoint, success
from .actions import SuggestedActionOut


class ChatRequest(Body):
    content: str = Field(min_length=1, max_length=100_000)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)


class ClientReferenceOut(Out):
    id: str
    name: str
    domain: str | None


class ChatData(Out):
    content: str
    conversationId: str
    suggestedActions: list[SuggestedActionOut]
    clientReferences: list[ClientReferenceOut]


class ChatOut(Out):
    success: bool
    data: ChatData


@endpoint(body=ChatRequest, response=ChatOut, errors=(*ERRORS, 409, 502))
@lars_endpoint("chat")
async def chat(request, workspace):
    """Send a message to Lars; the reply with the actions it suggests and the clients it names."""
    body = await read_body(request, ChatRequest)
    if not body.content.strip():
        raise Invalid("content must not be blank", field_errors={"content": ["must not be blank"]})
    return success(await request.app.state.lars.chat(workspace, body.content, body.conversation_id))


routes = [
    Route("/api/ai-agent/chat", chat, methods=["POST"]),
]

"""/api/v1/stan: personality, skills, context, compaction, past conversations and resume.

User-skill create/update/delete are extensions (the document only lists skills); see
docs/decisions/009-stan-sessions-and-workflow-nodes.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ...engine.stan.session import PERSONALITIES
from .._http import Body, Int, Out, endpoint, ok, read_body, read_query
from .sessions import stan

Personality = Literal[PERSONALITIES]


class PersonalityBody(Body):
    personality: Personality


class PersonalityOut(Out):
    personality: str


class SkillCreate(Body):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.-]*$")
    category: str = Field(default="custom", min_length=1, max_length=50)
    description: str = Field(default="", max_length=500)
    instructions: str = Field(min_length=1, max_length=20_000)
    active: bool = True


class SkillUpdate(Body):
    name: str = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.-]*$")
    category: str = Field(default=None, min_length=1, max_length=50)
    description: str = Field(default=None, max_length=500)
    instructions: str = Field(default=None, min_length=1, max_length=20_000)
    active: bool = None


class SystemSkillOut(Out):
    name: str
    category: str
    description: str


class UserSkillOut(SystemSkillOut):
    id: str
    active: bool


class SkillsOut(Out):
    system: list[SystemSkillOut]
    user: list[UserSkillOut]


class ContextOut(Out):
    active: bool


class CompactOut(Out):
    compacted: bool
    messagesCompacted: int


class ConversationsQuery(Body):
    limit: Int = Field(default=20, ge=1, le=100)


class ConversationOut(Out):
    id: str
    title: str | None
    mode: str
    modelId: str | None
    modelName: str | None
    messageCount: int
    createdAt: str
    updatedAt: str


class MessageOut(Out):
    role: str
    content: str | None


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]


class ResumedOut(Out):
    resumed: bool
    title: str | None
    mode: str
    modelName: str | None
    messageCount: int


class DeletedOut(Out):
    deleted: bool


@endpoint(response=PersonalityOut, errors=(401, 403))
async def get_personality(request):
    """The personality preset shaping Stan's replies."""
    return ok({"personality": await stan(request).personality()})


@endpoint(body=PersonalityBody, response=PersonalityOut, errors=(401, 403))
async def set_personality(request):
    """Set the personality: professional, friendly or concise."""
    facade = stan(request)
    body = await read_body(request, PersonalityBody)
    return ok({"personality": await facade.set_personality(body.personality)})


@endpoint(response=SkillsOut, errors=(401, 403))
async def list_skills(request):
    """Built-in system skills and the user's own skills."""
    return ok(await stan(request).skills())


@endpoint(body=SkillCreate, response=UserSkillOut, status=201, errors=(401, 403, 409))
async def create_skill(request):
    """Add a user skill; its instructions join Stan's system prompt while it is active."""
    facade = stan(request)
    body = await read_body(request, SkillCreate)
    return ok(await facade.create_skill(body.model_dump()), 201)


@endpoint(response=UserSkillOut, errors=(401, 403, 404))
async def get_skill(request):
    """One user skill with its instructions."""
    return ok(await stan(request).skill(request.path_params["id"]))


@endpoint(body=SkillUpdate, response=UserSkillOut, errors=(401, 403, 404, 409))
async def update_skill(request):
    """Edit a user skill, or activate/deactivate it (`active`)."""
    facade = stan(request)
    body = await read_body(request, SkillUpdate)
    return ok(await facade.update_skill(request.path_params["id"], body.given()))


@endpoint(response=DeletedOut, errors=(401, 403, 404))
async def delete_skill(request):
    """Delete a user skill."""
    facade = stan(request)
    await facade.delete_skill(request.path_params["id"])
    return ok({"deleted": True})


@endpoint(response=ContextOut, errors=(401, 403))
async def get_context(request):
    """Context-window usage of the active session (`active: false` without one)."""
    return ok(await stan(request).context())


@endpoint(response=CompactOut, errors=(400, 401, 403, 409, 502))
async def compact(request):
    """Summarise the older messages of the active session (409 without one)."""
    return ok(await stan(request).compact())


@endpoint(query=ConversationsQuery, response=list[ConversationOut], errors=(400, 401, 403))
async def list_conversations(request):
    """Past conversations, most recently active first."""
    facade = stan(request)
    query = read_query(request, ConversationsQuery)
    return ok(await facade.conversations(query.limit))


@endpoint(response=ConversationDetailOut, errors=(401, 403, 404))
async def get_conversation(request):
    """One past conversation with all its messages."""
    return ok(await stan(request).conversation(request.path_params["id"]))


@endpoint(response=ResumedOut, errors=(401, 403, 404))
async def resume_conversation(request):
    """Make a past conversation the session's: model, mode and its last 50 messages."""
    return ok(await stan(request).resume(request.path_params["id"]))


routes = [
    Route("/api/v1/stan/personality", get_personality, methods=["GET"]),
    Route("/api/v1/stan/personality", set_personality, methods=["PUT"]),
    Route("/api/v1/stan/skills", list_skills, methods=["GET"]),
    Route("/api/v1/stan/skills", create_skill, methods=["POST"]),
    Route("/api/v1/stan/skills/{id}", get_skill, methods=["GET"]),
    Route("/api/v1/stan/skills/{id}", update_skill, methods=["PATCH"]),
    Route("/api/v1/stan/skills/{id}", delete_skill, methods=["DELETE"]),
    Route("/api/v1/stan/context", get_context, methods=["GET"]),
    Route("/api/v1/stan/compact", compact, methods=["POST"]),
    Route("/api/v1/stan/conversations", list_conversations, methods=["GET"]),
    Route("/api/v1/stan/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/v1/stan/conversations/{id}/resume", resume_conversation, methods=["POST"]),
]

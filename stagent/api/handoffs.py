"""/api/handoffs: 2 documented endpoints plus GET/PATCH /api/handoffs/{id} of the code."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..errors import Invalid
from ..store import handoffs as store
from ._http import Body, Int, Out, endpoint, ok, read_body


class HandoffCreate(Body):
    from_profile_id: str = Field(max_length=100)
    to_profile_id: str = Field(max_length=100)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=20000)
    source_task_id: str | None = None
    priority: Int = Field(default=2, ge=0, le=3)
    requires_approval: bool = False
    parent_message_id: str | None = None
    attachments: list | None = None


class HandoffDecision(Body):
    action: Literal["approve", "reject"]
    approved_by: str = Field(default="user", min_length=1, max_length=100)


class HandoffOut(Out):
    id: str
    fromProfileId: str
    toProfileId: str
    taskId: str | None
    targetTaskId: str | None
    subject: str
    body: str
    status: str
    requiresApproval: bool
    chainDepth: int


def _engine(request):
    return request.app.state.handoffs


@endpoint(response=list[HandoffOut], errors=(400,))
async def list_handoffs(request):
    """Handoffs newest first (max 100); query status?, profileId? (the recipient)."""
    status = request.query_params.get("status") or None
    if status is not None and status not in store.STATUSES:
        raise Invalid(f"status must be one of {', '.join(store.STATUSES)}")
    return ok(await _engine(request).list(status, request.query_params.get("profileId") or None))


@endpoint(body=HandoffCreate, response=HandoffOut, status=201, errors=(400,))
async def create_handoff(request):
    """Send a handoff: pending when it requires approval (it waits in the inbox), else accepted
    and at once a task of the recipient profile."""
    body = await read_body(request, HandoffCreate, plain=True)
    fields = body.model_dump()
    fields["task_id"] = fields.pop("source_task_id")
    return ok(await _engine(request).send(fields), 201)


@endpoint(response=HandoffOut, errors=(404,))
async def get_handoff(request):
    """One handoff."""
    return ok(await _engine(request).get(request.path_params["id"]))


@endpoint(body=HandoffDecision, response=HandoffOut, errors=(400, 404, 409))
async def decide_handoff(request):
    """Approve (it becomes a task of the recipient) or reject a pending handoff."""
    body = await read_body(request, HandoffDecision, plain=True)
    return ok(await _engine(request).decide(request.path_params["id"], body.action, body.approved_by))


routes = [
    Route("/api/handoffs", list_handoffs, methods=["GET"]),
    Route("/api/handoffs", create_handoff, methods=["POST"]),
    Route("/api/handoffs/{id}", get_handoff, methods=["GET"]),
    Route("/api/handoffs/{id}", decide_handoff, methods=["PATCH"]),
]

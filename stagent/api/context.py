"""/api/context: 1 endpoint, approving or rejecting many learned-context proposals at once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ._http import Body, endpoint, ok, read_body

MESSAGE = "proposalIds (string[]) and action ('approve'|'reject') are required"


class Batch(Body):
    proposal_ids: list[str] = Field(min_length=1)
    action: Literal["approve", "reject"]
    edited_content: str | None = Field(default=None, max_length=32000)  # extension: one proposal, edited


@endpoint(body=Batch, errors=(400, 404, 409))
async def batch(request):
    """Approve or reject learned_context proposals (ids of their proposal rows, or of their
    inbox notifications); all or nothing."""
    body = await read_body(request, Batch, invalid=MESSAGE, malformed=MESSAGE, not_object=MESSAGE)
    engine = request.app.state.learned_context
    ids = await engine.proposal_ids(body.proposal_ids)
    edited = body.edited_content if len(ids) == 1 else None
    rows = await engine.decide(ids, body.action, edited=edited)
    return ok({"success": True, "action": body.action, "count": len(rows)})


routes = [Route("/api/context/batch", batch, methods=["POST"])]

"""/api/memory: 4 endpoints on the collection path (the id travels in the body)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..engine.memory.memory import apply_decay
from ..errors import Invalid
from ..store import memory as store
from ._http import Body, Int, Out, endpoint, ok, read_body

Category = Literal[store.CATEGORIES]
Status = Literal[store.STATUSES]


class MemoryCreate(Body):
    profile_id: str = Field(min_length=1, max_length=100)
    category: Category
    content: str = Field(min_length=1, max_length=4000)
    tags: list[str] | None = None
    confidence: float | Int | None = Field(default=None, ge=0, le=1)  # 0-1, stored x1000


class MemoryUpdate(Body):
    id: str = Field(min_length=1)
    confidence: Int | float | None = None  # 0-1000, clamped
    status: Status | None = None


class MemoryId(Body):
    id: str = Field(min_length=1)


class MemoryOut(Out):
    id: str
    profileId: str
    category: str
    content: str
    confidence: int
    sourceTaskId: str | None
    tags: str
    lastAccessedAt: str | None
    accessCount: int
    decayRate: int
    status: str
    createdAt: str
    updatedAt: str


def _db(request):
    return request.app.state.db


@endpoint(response=list[MemoryOut], errors=(400,))
async def list_memories(request):
    """A profile's memories, highest confidence first (query profileId, category?, status?)."""
    q = request.query_params
    profile_id = (q.get("profileId") or "").strip()
    if not profile_id:
        raise Invalid("profileId query parameter is required")
    category, status = q.get("category") or None, q.get("status") or None
    if category is not None and category not in store.CATEGORIES:
        raise Invalid(f"category must be one of {', '.join(store.CATEGORIES)}")
    if status is not None and status not in store.STATUSES:
        raise Invalid(f"status must be one of {', '.join(store.STATUSES)}")
    await apply_decay(_db(request), profile_id)
    return ok(await store.list_memories(_db(request), profile_id, category, status))


@endpoint(body=MemoryCreate, status=201, errors=(400,))
async def create_memory(request):
    """An operator-injected memory; confidence is 0-1 (default 0.7)."""
    body = await read_body(request, MemoryCreate, plain=True)
    content = body.content.strip()
    if not content:
        raise Invalid("content must not be blank")
    confidence = 0.7 if body.confidence is None else body.confidence
    memory_id = await store.create(_db(request), {
        "profile_id": body.profile_id.strip(), "category": body.category, "content": content,
        "confidence": round(confidence * 1000), "tags": [t.strip() for t in body.tags or [] if t.strip()][:20]})
    return ok({"id": memory_id}, 201)


@endpoint(body=MemoryUpdate, errors=(400,))
async def update_memory(request):
    """Adjust confidence (0-1000, clamped) and/or status."""
    body = await read_body(request, MemoryUpdate, plain=True)
    changes = {}
    if body.confidence is not None:
        changes["confidence"] = max(0, min(1000, round(body.confidence)))
    if body.status is not None:
        changes["status"] = body.status
    await store.update(_db(request), body.id, changes)
    return ok({"ok": True})


@endpoint(body=MemoryId, errors=(400,))
async def delete_memory(request):
    """Soft delete: the memory is archived."""
    body = await read_body(request, MemoryId, plain=True)
    await store.update(_db(request), body.id, {"status": "archived"})
    return ok({"ok": True})


routes = [
    Route("/api/memory", list_memories, methods=["GET"]),
    Route("/api/memory", create_memory, methods=["POST"]),
    Route("/api/memory", update_memory, methods=["PATCH"]),
    Route("/api/memory", delete_memory, methods=["DELETE"]),
]

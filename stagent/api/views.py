"""/api/views: saved views per UI surface (the tables grid, the task list), 4 endpoints."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field
from starlette.routing import Route

from ..errors import Invalid, NotFound
from ..store import views as store
from ._http import Body, Out, endpoint, ok, read_body

Density = Literal[store.DENSITIES]


class ViewCreate(Body):
    surface: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    filters: Any = None
    sorting: Any = None
    columns: Any = None
    density: Density | None = None
    is_default: bool | None = None


class ViewUpdate(Body):
    name: str = Field(default=None, min_length=1, max_length=200)
    filters: Any = None
    sorting: Any = None
    columns: Any = None
    density: Density = None
    is_default: bool = None


class ViewOut(Out):
    id: str
    surface: str
    name: str
    filters: str | None
    sorting: str | None
    columns: str | None
    density: str
    isDefault: bool
    createdAt: str
    updatedAt: str


def _db(request):
    return request.app.state.db


def _json_fields(fields: dict) -> dict:
    """filters/sorting/columns are objects or arrays (stored as JSON); a JSON string of one is read."""
    for key in ("filters", "sorting", "columns"):
        value = fields.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise Invalid(f"{key} must be an object or an array") from None
        if value is not None and not isinstance(value, (dict, list)):
            raise Invalid(f"{key} must be an object or an array")
        if key in fields:
            fields[key] = value
    return fields


@endpoint(response=list[ViewOut], errors=(400,))
async def list_views(request):
    """Saved views of a surface (query surface, required): the default first, then by name."""
    surface = (request.query_params.get("surface") or "").strip()
    if not surface:
        raise Invalid("surface param required")
    return ok(await store.list_views(_db(request), surface))


@endpoint(body=ViewCreate, response=ViewOut, status=201, errors=(400,))
async def create_view(request):
    """Save a view; isDefault clears the surface's other default."""
    body = await read_body(request, ViewCreate)
    fields = _json_fields(body.given())
    if not body.surface.strip() or not body.name.strip():
        raise Invalid("surface and name must not be blank")
    fields.update(surface=body.surface.strip(), name=body.name.strip())
    return ok(await store.create_view(_db(request), fields), 201)


@endpoint(body=ViewUpdate, response=ViewOut, errors=(400, 404))
async def update_view(request):
    """Change a view's fields (null filters/sorting/columns clear them)."""
    body = await read_body(request, ViewUpdate)
    changes = _json_fields(body.given())
    if any(changes.get(k, "") is None for k in ("name", "density", "is_default")):
        raise Invalid("name, density and isDefault may not be null")
    view = await store.update_view(_db(request), request.path_params["id"], changes)
    if view is None:
        raise NotFound("View not found")
    return ok(view)


@endpoint(errors=(404,))
async def delete_view(request):
    """Delete a view."""
    if not await store.delete_view(_db(request), request.path_params["id"]):
        raise NotFound("View not found")
    return ok({"ok": True})


routes = [
    Route("/api/views", list_views, methods=["GET"]),
    Route("/api/views", create_view, methods=["POST"]),
    Route("/api/views/{id}", update_view, methods=["PATCH"]),
    Route("/api/views/{id}", delete_view, methods=["DELETE"]),
]

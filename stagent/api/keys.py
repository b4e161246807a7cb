"""/api/keys: list, create (secret shown once) and revoke API keys. Every route needs the `admin`
scope, with a key or the UI session even on loopback (stagent/api/_scopes.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..security import ALL_SCOPES
from ..store import keys as store
from ._http import Body, Out, endpoint, ok, read_body

Scope = Literal[ALL_SCOPES]


class KeyCreate(Body):
    name: str = Field(default="api key", min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)


class KeyOut(Out):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None


@endpoint(response=list[KeyOut], errors=(401, 403))
async def list_keys(request):
    """List API keys (never their secrets)."""
    db = request.app.state.db
    await store.flush_usage(db, request.app.state.keys)  # lastUsedAt is otherwise written every 30 s
    return ok(await store.list_keys(db))


@endpoint(body=KeyCreate, response=KeyOut, status=201, errors=(400, 401, 403))
async def create_key(request):
    """Create a key; the response carries the secret as `key`, the only time it is shown."""
    body = await read_body(request, KeyCreate)
    secret, key = await store.create_key(request.app.state.db, request.app.state.keys, body.name, body.scopes)
    return ok({**key, "key": secret}, 201)


@endpoint(errors=(401, 403, 404))
async def revoke_key(request):
    """Revoke a key at once."""
    await store.revoke_key(request.app.state.db, request.app.state.keys, request.path_params["id"])
    return ok({"success": True})


routes = [
    Route("/api/keys", list_keys, methods=["GET"]),
    Route("/api/keys", create_key, methods=["POST"]),
    Route("/api/keys/{id}", revoke_key, methods=["DELETE"]),
]

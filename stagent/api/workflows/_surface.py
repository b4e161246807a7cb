"""What every /api/workflows handler shares: this domain's error sentences and the lookups.

Errors are the original's plain `{"error": "<sentence>"}` (this domain never used the Zod
shape), malformed JSON included. A body is checked against the same models the OpenAPI
document shows, and a mismatch names the first field that does not fit.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError

from ...store import workflow_runs as runs
from .._http import M, read_body, validate_body

NOT_OBJECT = "The body must be a JSON object"


def mismatch(exc: ValidationError, prefix: str = "") -> str:
    """`Invalid definition.steps.0.id: <why>`: the first field that does not fit its model."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    return f"Invalid {where}: {first['msg']}" if where else first["msg"]


async def read(request, model: type[M] | None = None, *, not_object: str = NOT_OBJECT) -> Any:
    """The body (a dict without a model), every failure a plain sentence."""
    return await read_body(request, model, plain=True, not_object=not_object, invalid=mismatch)


def checked(model: type[M], data: Any, prefix: str = "") -> M:
    """A value already read (part of a body) against its model, failures as `read` words them."""
    return validate_body(model, data, plain=True, not_object=f"{prefix or 'The body'} must be a JSON object",
                         invalid=functools.partial(mismatch, prefix=prefix))


def db(request):
    return request.app.state.db


def engine(request):
    return request.app.state.workflows


def path_id(request) -> str:
    return request.path_params["id"]


async def workflow(request, workflow_id: str) -> dict:
    return await db(request).read(lambda conn: runs.raw_in(conn, workflow_id))

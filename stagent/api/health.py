"""/api/health and /api/openapi.json (built from the route table and the handlers' models)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from starlette.routing import Route

from .. import __version__
from ._http import Out, endpoint, ok

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {
            "formErrors": {"type": "array", "items": {"type": "string"}},
            "fieldErrors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        }, "required": ["formErrors", "fieldErrors"]},
    ]}},
    "required": ["error"],
}
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad request",
           401: "API key missing or invalid", 403: "Forbidden", 404: "Not found", 409: "Conflict",
           413: "Payload too large", 429: "Too many requests", 502: "Upstream error"}


class HealthOut(Out):
    status: str
    version: str
    dataDir: str


@endpoint(response=HealthOut)
async def health(request):
    """Liveness, version and where the data lives."""
    return ok({"status": "ok", "version": __version__, "dataDir": str(request.app.state.config.data_dir)})


def _schema(tp: Any, components: dict, mode: str) -> dict:
    schema = TypeAdapter(tp).json_schema(mode=mode, ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def build_openapi(routes: list) -> dict:
    paths: dict[str, dict] = {}
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in routes:
        if not isinstance(route, Route):
            continue
        meta = getattr(route.endpoint, "__openapi__", None)
        if meta is None:
            continue
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", route.path)]
        if meta["query"] is not None:
            query_schema = _schema(meta["query"], components, "validation")
            for name, prop in query_schema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in query_schema.get("required", []),
                               "schema": prop})
        success: dict[str, Any] = {"description": REASONS.get(meta["status"], "OK")}
        if meta["content_type"] == "text/event-stream":
            success["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
        elif meta["content_type"] == "application/octet-stream":  # a stored file, whatever its type
            success["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        elif isinstance(meta["content_type"], tuple):  # a file in one of several formats (a table export)
            success["content"] = {kind: {"schema": {}} for kind in meta["content_type"]}
        elif meta["response"] is not None:
            success["content"] = {"application/json": {"schema": _schema(meta["response"], components, "serialization")}}
        elif meta["status"] != 204:
            success["content"] = {"application/json": {"schema": {}}}
        responses = {str(meta["status"]): success}
        for status in sorted({400, 405, 413, *meta["errors"]} if meta["body"] else {*meta["errors"]}):
            error: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
            if status in meta.get("null_on", ()):  # a documented `null` body (profile test-results' 404)
                error = {"anyOf": [error, {"type": "null"}]}
            responses[str(status)] = {"description": REASONS.get(status, "Error"),
                                      "content": {"application/json": {"schema": error}}}
        for method in sorted(route.methods - {"HEAD"}):
            operation: dict[str, Any] = {
                "operationId": route.endpoint.__name__,
                "summary": meta["summary"].splitlines()[0] if meta["summary"] else route.endpoint.__name__,
                "parameters": params, "responses": responses,
            }
            if meta["body"] is not None:
                body_schema = _schema(meta["body"], components, "validation")
                # read_body() treats a missing body as {}, so it may be left out when no field is required.
                required = any(field.is_required() for field in meta["body"].model_fields.values())
                operation["requestBody"] = {"required": required,
                                            "content": {"application/json": {"schema": body_schema}}}
            paths.setdefault(route.path, {})[method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": "stagent", "version": __version__},
            "paths": paths, "components": {"schemas": components}}


@endpoint()
async def openapi(request):
    """This document."""
    state = request.app.state
    if getattr(state, "openapi", None) is None:
        from . import routes

        state.openapi = build_openapi(routes)
    return ok(state.openapi)


routes = [
    Route("/api/health", health, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"]),
]

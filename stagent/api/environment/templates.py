"""Templates: a scan's manifest under a name; list, capture, read (with the parsed manifest), delete."""

from __future__ import annotations

import json

from pydantic import Field
from starlette.routing import Route

from ...engine.environment.templates import manifest
from ...errors import Invalid, NotFound
from ...store import environment as store
from .._http import Body, Out, endpoint, ok, read_body
from ._common import db


class TemplateBody(Body):
    scan_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class TemplateOut(Out):
    template: dict


async def _template(request) -> dict:
    template = await store.get_template(db(request), request.path_params["id"])
    if template is None:
        raise NotFound("Template not found")
    return template


@endpoint(response=dict)
async def list_templates(request):
    """Templates, newest first."""
    return ok({"templates": await store.list_templates(db(request))})


@endpoint(body=TemplateBody, response=TemplateOut, status=201, errors=(400,))
async def create_template(request):
    """Capture the manifest of a scan (names, paths, hashes; no content)."""
    body = await read_body(request, TemplateBody)
    name = body.name.strip()
    if not name:
        raise Invalid("Validation failed", field_errors={"name": ["name must not be blank"]}, form_errors=[])
    if await store.get_scan(db(request), body.scan_id) is None:
        raise Invalid("Validation failed", field_errors={"scanId": ["scan not found"]}, form_errors=[])
    artifacts = await store.list_artifacts(db(request), body.scan_id)
    template = await store.insert_template(db(request), name, (body.description or "").strip() or None,
                                           manifest(artifacts), len(artifacts))
    return ok({"template": template}, 201)


@endpoint(response=dict, errors=(404,))
async def get_template(request):
    """A template and its parsed manifest."""
    template = await _template(request)
    return ok({"template": template, "manifest": json.loads(template["manifest"])})


@endpoint(response=dict, errors=(404,))
async def delete_template(request):
    """Delete a template."""
    await _template(request)
    await store.delete_template(db(request), request.path_params["id"])
    return ok({"message": "Template deleted"})


routes = [
    Route("/api/environment/templates", list_templates, methods=["GET"]),
    Route("/api/environment/templates", create_template, methods=["POST"]),
    Route("/api/environment/templates/{id}", get_template, methods=["GET"]),
    Route("/api/environment/templates/{id}", delete_template, methods=["DELETE"]),
]

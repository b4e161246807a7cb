"""/api/tables/templates: built-in and user table templates (engine/tables/templates.py). These
routes go before /api/tables/{id}: `templates` is not a table id."""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...engine.tables import templates as engine
from ...engine.tables.template_catalog import CATEGORIES
from ...errors import Invalid
from .._http import Body, Out, endpoint, ok, read_body


class TemplateSave(Body):
    table_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    category: str | None = None
    include_sample_data: bool | None = None


class TemplateOut(Out):
    id: str
    name: str
    category: str
    scope: str


@endpoint(response=list[TemplateOut], errors=(400,))
async def list_templates(request):
    """Templates, built-in first (query category?, scope? system|user)."""
    q = request.query_params
    return ok(await engine.list_templates(request.app.state.db, q.get("category") or None, q.get("scope") or None))


@endpoint(body=TemplateSave, status=201, errors=(400, 404))
async def save_template(request):
    """Save a table's columns (and its first 5 rows with includeSampleData) as a user template."""
    body = await read_body(request, TemplateSave)
    if body.category is not None and body.category not in CATEGORIES:
        raise Invalid(f"category must be one of {', '.join(CATEGORIES)}")
    name = body.name.strip()
    if not name:
        raise Invalid("name must not be blank")
    template = await engine.save_from_table(request.app.state.db, body.table_id, name, body.description,
                                            body.category, bool(body.include_sample_data))
    return ok({"id": template["id"], "name": template["name"]}, 201)


routes = [
    Route("/api/tables/templates", list_templates, methods=["GET"]),
    Route("/api/tables/templates", save_template, methods=["POST"]),
]

"""/api/blueprints: the catalog's 6 endpoints, plus `GET /api/blueprints/{id}/lineage`.

Errors are the original's plain `{"error": "<sentence>"}`; the statuses are the catalog's, also
where they are unusual (DELETE or instantiate of an unknown blueprint: 400). Decision 014.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from starlette.routing import Route

from ..engine.workflows import blueprints as engine
from ..errors import Invalid, NotFound
from ..store import blueprints as lineage_store
from ._http import Body, Out, endpoint, ok, read_body


class BlueprintCreate(Body):
    yaml: str = Field(min_length=1)


class BlueprintImport(Body):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    yaml: str | None = Field(default=None, min_length=1)  # extension: the text instead of a URL


class Instantiate(Body):
    variables: dict[str, Any]
    project_id: str | None = None


class BlueprintOut(Out):
    id: str
    name: str
    description: str
    version: str
    pattern: str
    variables: list[dict]
    steps: list[dict]
    isBuiltin: bool
    instanceCount: int


class ImportOut(Out):
    ok: bool
    id: str
    name: str


class InstantiateOut(Out):
    workflowId: str
    id: str
    name: str
    status: str
    definition: str
    stepsCount: int
    skippedSteps: list[str]


class LineageWorkflow(Out):
    id: str
    name: str
    status: str
    blueprintVersion: str | None
    createdAt: str
    runNumber: int


class LineageOut(Out):
    blueprintId: str
    version: str | None
    workflows: list[LineageWorkflow]


class OkOut(Out):
    ok: bool


def _registry(request) -> engine.BlueprintRegistry:
    return request.app.state.blueprints


async def _object_body(request) -> dict:
    """The body as a dict; these routes answer every error as {error: text}."""
    return await read_body(request, plain=True, not_object="Expected a JSON object")


def _text_field(data: dict, name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value.strip() else None


@endpoint(response=list[BlueprintOut])
async def list_blueprints(request):
    """Every blueprint, built-in and user, with `isBuiltin` and how many workflows were made from it."""
    counts = await lineage_store.instance_counts(request.app.state.db)
    return ok([{**bp.to_json(is_builtin=builtin), "instanceCount": counts.get(bp.id, 0)}
               for bp, builtin in _registry(request).all()])


@endpoint(body=BlueprintCreate, response=BlueprintOut, status=201, errors=(400,))
async def create_blueprint(request):
    """Register a user blueprint from its YAML text."""
    text = _text_field(await _object_body(request), "yaml")
    if text is None:
        raise Invalid("yaml field is required")
    blueprint = await _registry(request).create(text)
    return ok({**blueprint.to_json(is_builtin=False), "instanceCount": 0}, 201)


@endpoint(body=BlueprintImport, response=ImportOut, status=201, errors=(400,))
async def import_blueprint(request):
    """Fetch a blueprint's YAML from a URL (github.com links become raw ones) and register it;
    `yaml` (the text itself) is accepted instead of `url`."""
    data = await _object_body(request)
    url, text = _text_field(data, "url"), _text_field(data, "yaml")
    if url is not None and text is not None:
        raise Invalid("Give either url or yaml, not both")
    if url is None and text is None:
        raise Invalid("url is required (or yaml, the blueprint's text)")
    if url is not None:
        if len(url) > 2000:
            raise Invalid("url is longer than 2000 characters")
        text = await engine.fetch_yaml(url.strip())
    blueprint = await _registry(request).create(text)
    return ok({"ok": True, "id": blueprint.id, "name": blueprint.name}, 201)


@endpoint(response=BlueprintOut, errors=(404,))
async def get_blueprint(request):
    """One blueprint."""
    blueprint, builtin = _registry(request).get(request.path_params["id"])
    counts = await lineage_store.instance_counts(request.app.state.db)
    return ok({**blueprint.to_json(is_builtin=builtin), "instanceCount": counts.get(blueprint.id, 0)})


@endpoint(response=OkOut, errors=(400, 403))
async def delete_blueprint(request):
    """Delete a user blueprint (403 for a built-in; 400 when there is none with this id). Workflows
    made from it stay."""
    await _registry(request).delete(request.path_params["id"])
    return ok({"ok": True})


@endpoint(body=Instantiate, response=InstantiateOut, status=201, errors=(400,))
async def instantiate_blueprint(request):
    """Create a draft workflow from a blueprint with these variable values."""
    data = await _object_body(request)
    variables = data.get("variables")
    if not isinstance(variables, dict):
        raise Invalid("variables (an object of variable id → value) is required")
    project_id = data.get("projectId")
    if project_id is not None and not isinstance(project_id, str):
        raise Invalid("projectId must be a string")
    try:
        blueprint, _ = _registry(request).get(request.path_params["id"])
    except NotFound:
        raise Invalid(f'Blueprint "{request.path_params["id"]}" not found') from None
    made = await engine.instantiate(request.app.state.db, blueprint, variables, project_id)
    workflow = made["workflow"]
    # The catalog's Workflow (definition as a JSON string) and the code's summary, in one object.
    return ok({**workflow, "definition": json.dumps(workflow["definition"]), "workflowId": workflow["id"],
               "stepsCount": made["stepsCount"], "skippedSteps": made["skippedSteps"]}, 201)


@endpoint(response=LineageOut, errors=(404,))
async def blueprint_lineage(request):
    """Which workflows were made from this blueprint, and from which of its versions."""
    blueprint_id = request.path_params["id"]
    workflows = await lineage_store.instances(request.app.state.db, blueprint_id)
    try:
        version = _registry(request).get(blueprint_id)[0].version
    except NotFound:
        if not workflows:  # a deleted blueprint still has a lineage while its workflows exist
            raise
        version = None
    versions: dict[str, int] = {}
    for workflow in workflows:
        key = workflow["blueprintVersion"] or "unknown"
        versions[key] = versions.get(key, 0) + 1
    return ok({"blueprintId": blueprint_id, "version": version, "versions": versions, "workflows": workflows})


routes = [
    Route("/api/blueprints", list_blueprints, methods=["GET"]),
    Route("/api/blueprints", create_blueprint, methods=["POST"]),
    Route("/api/blueprints/import", import_blueprint, methods=["POST"]),
    Route("/api/blueprints/{id}", get_blueprint, methods=["GET"]),
    Route("/api/blueprints/{id}", delete_blueprint, methods=["DELETE"]),
    Route("/api/blueprints/{id}/instantiate", instantiate_blueprint, methods=["POST"]),
    Route("/api/blueprints/{id}/lineage", blueprint_lineage, methods=["GET"]),
]

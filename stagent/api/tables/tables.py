"""/api/tables, /api/tables/{id} and /api/tables/{id}/columns: tables and their columns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError
from starlette.responses import Response

from ...engine import tables as engine
from ...errors import Invalid, NotFound
from ...store import projects as project_store
from ...store import tables as store
from .._http import Body, Out, endpoint, ok, read_body

Source = Literal[store.SOURCES]


class ColumnDef(Body):
    model_config = {**Body.model_config, "strict": False}
    name: str = Field(min_length=1, max_length=64)
    display_name: str = Field(default=None, min_length=1, max_length=128)
    data_type: str
    required: bool | None = None
    default_value: Any = None
    config: dict | None = None


class TableCreate(Body):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    project_id: str | None = None
    columns: list[dict] | None = Field(default=None, max_length=200)
    source: Source | None = None
    template_id: str | None = None
    include_sample_data: bool | None = None


class TableUpdate(Body):
    name: str = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    project_id: str | None = None


class ColumnOrder(Body):
    column_ids: list[str] = Field(min_length=1, max_length=200)


class ColumnOut(Out):
    id: str
    tableId: str
    name: str
    displayName: str
    dataType: str
    position: int
    required: bool
    defaultValue: str | None
    config: dict | None


class TableOut(Out):
    id: str
    projectId: str | None
    name: str
    description: str | None
    columnSchema: str
    rowCount: int
    source: str
    templateId: str | None
    createdAt: str
    updatedAt: str


class TableWithColumns(TableOut):
    columns: list[ColumnOut]


def _db(request):
    return request.app.state.db


async def _check_project(request, project_id: str | None) -> None:
    if project_id is not None and not await project_store.project_exists(_db(request), project_id):
        raise Invalid("Project not found")


async def _table(request) -> dict:
    table = await store.get_table(_db(request), request.path_params["id"])
    if table is None:
        raise NotFound("Table not found")
    return table


@endpoint(response=list[TableOut], errors=(400,))
async def list_tables(request):
    """Tables, most recently updated first (query projectId?, source?, search?), with projectName
    and columnCount."""
    q = request.query_params
    source = q.get("source") or None
    if source is not None and source not in store.SOURCES:
        raise Invalid(f"source must be one of {', '.join(store.SOURCES)}")
    return ok(await store.list_tables(_db(request), q.get("projectId") or None, source,
                                      (q.get("search") or "").strip() or None))


@endpoint(body=TableCreate, response=TableWithColumns, status=201, errors=(400, 404))
async def create_table(request):
    """Create a table with typed columns, or clone a template when templateId is given."""
    body = await read_body(request, TableCreate)
    await _check_project(request, body.project_id)
    if body.template_id:
        # The template engine (engine/tables/templates.py) owns cloning: columns, sample rows.
        from ...engine.tables import templates
        table = await templates.create_from_template(
            _db(request), body.template_id, name=_name(body.name), project_id=body.project_id,
            include_sample_data=bool(body.include_sample_data))
        return ok(table, 201)
    fields = {"name": _name(body.name), "description": body.description,
              "project_id": body.project_id, "source": body.source or "manual"}
    table = await engine.create_table(_db(request), fields, _column_dicts(body.columns or []))
    return ok(table, 201)


def _name(name: str) -> str:
    if not name.strip():
        raise Invalid("name must not be blank")
    return name.strip()


def _column_dicts(columns: list) -> list[dict]:
    """Column definitions as camelCase dicts, each checked for its field types (400 naming it)."""
    out = []
    for i, column in enumerate(columns):
        if not isinstance(column, dict):
            raise Invalid(f"columns[{i}]: expected an object")
        try:
            parsed = ColumnDef.model_validate(column)
        except ValidationError as exc:  # name the column and the first problem
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise Invalid(f"columns[{i}].{where}: {first['msg']}") from None
        out.append({"name": parsed.name, "displayName": parsed.display_name or parsed.name,
                    "dataType": parsed.data_type, "required": bool(parsed.required),
                    "defaultValue": parsed.default_value, "config": parsed.config})
    return out


@endpoint(response=TableWithColumns, errors=(404,))
async def get_table(request):
    """One table with its columns."""
    return ok(await _table(request))


@endpoint(body=TableUpdate, response=TableWithColumns, errors=(400, 404))
async def update_table(request):
    """Rename, re-describe or move a table (projectId null: no project)."""
    await _table(request)
    body = await read_body(request, TableUpdate)
    changes = body.given()
    if "name" in changes:
        if changes["name"] is None:
            raise Invalid("name may not be null")
        changes["name"] = _name(changes["name"])
    await _check_project(request, changes.get("project_id"))
    if not await store.update_table(_db(request), request.path_params["id"], changes):
        raise NotFound("Table not found")
    return ok(await _table(request))


@endpoint(status=204, errors=(404,))
async def delete_table(request):
    """Delete a table with its rows, columns, history, triggers and charts."""
    if not await store.delete_table(_db(request), request.path_params["id"]):
        raise NotFound("Table not found")
    return Response(status_code=204)


@endpoint(body=ColumnDef, response=ColumnOut, status=201, errors=(400, 404))
async def add_column(request):
    """Append a column; a computed one is filled into every row (cycles are refused)."""
    await _table(request)
    raw = await read_body(request)
    column = _column_dicts([raw])[0]
    try:
        created = await engine.add_column(_db(request), request.path_params["id"], column)
    except Invalid as exc:
        raise Invalid(exc.message.removeprefix("columns[0].")) from None
    return ok(created, 201)


@endpoint(body=ColumnOrder, response=list[ColumnOut], errors=(400, 404))
async def reorder_columns(request):
    """Reorder columns: the listed ids first, in that order."""
    await _table(request)
    body = await read_body(request, ColumnOrder)
    return ok(await engine.reorder_columns(_db(request), request.path_params["id"], body.column_ids))

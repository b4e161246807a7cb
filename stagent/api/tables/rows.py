"""/api/tables/{id}/rows…, /history: rows (data as an object), their history and rollback."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from starlette.responses import Response

from ...engine import tables as engine
from ...engine.tables.rows import page_limit
from ...errors import Invalid, NotFound
from ...store import table_history as history_store
from ...store import table_rows as row_store
from .._http import Body, Out, endpoint, ok, read_body


class RowIn(Body):
    data: Any = None
    created_by: str | None = Field(default=None, min_length=1, max_length=100)


class RowsCreate(Body):
    rows: list[RowIn] = Field(min_length=1, max_length=1000)


class RowUpdate(Body):
    data: Any


class Rollback(Body):
    history_entry_id: str = Field(min_length=1)


class RowOut(Out):
    id: str
    tableId: str
    data: dict
    position: int
    createdBy: str
    createdAt: str
    updatedAt: str


class HistoryOut(Out):
    id: str
    rowId: str
    tableId: str
    previousData: str
    changedBy: str
    changeType: str
    createdAt: str


def _db(request):
    return request.app.state.db


def _events(request):
    return request.app.state.events


def _data(value, where: str) -> dict:
    """Row data as documented, an object; a JSON string of an object is read too (the original
    handed row data out as a string, so its clients may send one back)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid(f"{where}: data must be an object") from None
    if not isinstance(value, dict):
        raise Invalid(f"{where}: data must be an object")
    return value


@endpoint(response=list[RowOut], errors=(400, 404))
async def list_rows(request):
    """Rows matching `filters` (JSON array of {column, operator, value?}) sorted by `sorts`
    (JSON array of {column, direction}); limit 1-1000 (default 100), offset."""
    q = request.query_params
    return ok(await engine.query_rows(_db(request), request.path_params["id"], q.get("filters"), q.get("sorts"),
                                      q.get("limit"), q.get("offset")))


@endpoint(body=RowsCreate, response=list[RowOut], status=201, errors=(400, 404))
async def add_rows(request):
    """Insert 1-1000 rows; one bad cell refuses them all (400 naming the row and column)."""
    await engine.table_columns(_db(request), request.path_params["id"])
    body = await read_body(request, RowsCreate)
    rows = [(_data(r.data, f"rows[{i}]"), r.created_by or "user") for i, r in enumerate(body.rows)]
    created = await engine.add_rows_by(_db(request), request.path_params["id"], rows, events=_events(request))
    return ok(created, 201)


@endpoint(body=RowUpdate, response=RowOut, errors=(400, 404))
async def update_row(request):
    """Merge `data` into the row; a key set to null is removed. History is kept."""
    table_id, row_id = request.path_params["id"], request.path_params["rowId"]
    await _row(request)
    body = await read_body(request, RowUpdate)
    return ok(await engine.update_row(_db(request), table_id, row_id, _data(body.data, "data"),
                                      events=_events(request)))


@endpoint(status=204, errors=(404,))
async def delete_row(request):
    """Delete a row (its data goes to history first, so it can be rolled back)."""
    await engine.delete_row(_db(request), request.path_params["id"], request.path_params["rowId"],
                            events=_events(request))
    return Response(status_code=204)


async def _row(request, *, or_history: bool = False) -> None:
    """404 unless the table and the row exist (or, with or_history, the row once existed)."""
    table_id, row_id = request.path_params["id"], request.path_params["rowId"]
    await engine.table_columns(_db(request), table_id)
    if await row_store.get_row(_db(request), table_id, row_id) is None and not (
            or_history and await history_store.row_has_history(_db(request), table_id, row_id)):
        raise NotFound("Row not found")


@endpoint(response=list[HistoryOut], errors=(400, 404))
async def table_history(request):
    """The table's row changes, newest first (limit default 100, at most 500)."""
    table_id = request.path_params["id"]
    await engine.table_columns(_db(request), table_id)
    limit = page_limit(request.query_params.get("limit"), 100, 500)
    return ok(await history_store.table_history(_db(request), table_id, limit))


@endpoint(response=list[HistoryOut], errors=(400, 404))
async def row_history(request):
    """One row's changes, newest first (limit default 50, at most 200); a deleted row's too."""
    await _row(request, or_history=True)
    limit = page_limit(request.query_params.get("limit"), 50, 200)
    return ok(await history_store.row_history(_db(request), request.path_params["id"],
                                              request.path_params["rowId"], limit))


@endpoint(body=Rollback, errors=(400, 404))
async def rollback_row(request):
    """Put the row back as a history entry recorded it (a deleted row comes back)."""
    await _row(request, or_history=True)
    body = await read_body(request, Rollback)
    await engine.rollback_row(_db(request), request.path_params["id"], request.path_params["rowId"],
                              body.history_entry_id, events=_events(request))
    return ok({"ok": True})

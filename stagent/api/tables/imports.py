"""POST /api/tables/{id}/import: preview a CSV/TSV/XLSX document, or import it (engine/tables/document_import.py)."""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...engine.tables import document_import
from .._http import Body, Out, endpoint, ok, read_body

_TYPES = document_import.IMPORTABLE_TYPES


class ColumnMapping(Body):
    name: str = Field(default="", max_length=64)
    display_name: str | None = Field(default=None, max_length=128)
    data_type: str | None = None
    skip: bool | None = None
    header: str | None = Field(default=None, max_length=1000)  # extension: the file column by its header


class ImportBody(Body):
    document_id: str = Field(min_length=1, max_length=100)
    preview: bool | None = None
    column_mapping: list[ColumnMapping] | None = Field(default=None, max_length=200)


class ImportOut(Out):
    importId: str | None = None
    rowsImported: int | None = None
    rowsSkipped: int | None = None
    errors: list[dict] | None = None
    headers: list[str] | None = None
    totalRows: int | None = None


@endpoint(body=ImportBody, response=ImportOut, errors=(400, 404))
async def import_document(request):
    """Preview (headers, 10 sample rows, inferred columns) or import a document's rows."""
    table_id = request.path_params["id"]
    body = await read_body(request, ImportBody)
    db = request.app.state.db
    if body.preview:
        return ok(await document_import.preview(db, table_id, body.document_id))
    mapping = None
    if body.column_mapping is not None:
        mapping = [m.model_dump(by_alias=True, exclude_none=True) for m in body.column_mapping]
    result = await document_import.run_import(db, table_id, body.document_id, mapping, request.app.state.events)
    return ok(result)


routes = [
    Route("/api/tables/{id}/import", import_document, methods=["POST"]),
]

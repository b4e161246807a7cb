"""GET /api/tables/{id}/export?format=csv|json|xlsx: the table as a file (at most 10,000 rows),
built off the event loop (engine/tables/exporting.py)."""

from __future__ import annotations

import asyncio
from typing import Literal
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from ...engine.tables import exporting
from ...errors import Invalid
from .._http import Body, endpoint


class ExportQuery(Body):
    format: Literal[tuple(exporting.FORMATS)] | None = None


@endpoint(query=ExportQuery, errors=(400, 404), content_type=tuple(t.split(";")[0] for t, _ in exporting.FORMATS.values()))
async def export_table(request):
    """The table's rows as CSV (default), JSON or XLSX, named after the table."""
    table_id = request.path_params["id"]
    fmt = request.query_params.get("format") or "csv"
    if fmt not in exporting.FORMATS:
        raise Invalid(f"format must be one of {', '.join(exporting.FORMATS)}")
    db = request.app.state.db
    table, data = await exporting.export_rows(db, table_id, exporting.MAX_EXPORT_ROWS)
    content = await asyncio.to_thread(exporting.build, fmt, table["columns"], data)
    name = exporting.filename(table["name"], fmt)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=exporting.FORMATS[fmt][0],
                    headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})


routes = [
    Route("/api/tables/{id}/export", export_table, methods=["GET"]),
]

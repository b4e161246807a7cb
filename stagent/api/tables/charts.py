"""/api/tables/{id}/charts: saved charts (engine/tables/charts.py); each listed chart carries
its figures in `data`, aggregated by the daemon."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.responses import Response
from starlette.routing import Route

from ...engine.tables import charts as engine
from .._http import Body, Out, endpoint, ok, read_body

ChartType = Literal[engine.TYPES]
Aggregation = Literal[engine.AGGREGATIONS]


class ChartCreate(Body):
    type: ChartType
    title: str = Field(min_length=1, max_length=256)
    x_column: str = Field(min_length=1, max_length=64)
    y_column: str | None = Field(default=None, max_length=64)
    aggregation: Aggregation | None = None


class ChartUpdate(Body):
    type: ChartType | None = None
    title: str | None = Field(default=None, min_length=1, max_length=256)
    x_column: str | None = Field(default=None, min_length=1, max_length=64)
    y_column: str | None = Field(default=None, max_length=64)
    aggregation: Aggregation | None = None


class ChartOut(Out):
    id: str
    name: str
    config: dict | None = None
    data: dict | None = None


def _db(request):
    return request.app.state.db


@endpoint(response=list[ChartOut], errors=(404,))
async def list_charts(request):
    """The table's saved charts, config parsed, with their figures."""
    return ok(await engine.list_charts(_db(request), request.path_params["id"]))


@endpoint(body=ChartCreate, status=201, errors=(400, 404))
async def create_chart(request):
    """Save a chart: bar, line, pie or scatter over xColumn (and yColumn, aggregated)."""
    table_id = request.path_params["id"]
    await engine.rows.table_columns(_db(request), table_id)  # 404 before 400
    body = await read_body(request, ChartCreate)
    fields = {k: v for k, v in body.model_dump(by_alias=True).items() if v is not None}
    chart = await engine.create_chart(_db(request), table_id, fields)
    return ok({"id": chart["id"], "name": chart["name"]}, 201)


@endpoint(body=ChartUpdate, response=ChartOut, errors=(400, 404))
async def update_chart(request):
    """Change a chart; its config is merged with what is sent (yColumn null clears it)."""
    table_id = request.path_params["id"]
    await engine.rows.table_columns(_db(request), table_id)
    body = await read_body(request, ChartUpdate)
    changes = {k: v for k, v in body.model_dump(by_alias=True, exclude_unset=True).items()
               if v is not None or k == "yColumn"}
    return ok(await engine.update_chart(_db(request), table_id, request.path_params["chartId"], changes))


@endpoint(status=204, errors=(404,))
async def delete_chart(request):
    """Delete a chart."""
    await engine.delete_chart(_db(request), request.path_params["id"], request.path_params["chartId"])
    return Response(status_code=204)


routes = [
    Route("/api/tables/{id}/charts", list_charts, methods=["GET"]),
    Route("/api/tables/{id}/charts", create_chart, methods=["POST"]),
    Route("/api/tables/{id}/charts/{chartId}", update_chart, methods=["PATCH"]),
    Route("/api/tables/{id}/charts/{chartId}", delete_chart, methods=["DELETE"]),
]

"""Saved charts of a table: config checked against the columns, figures aggregated in SQL.

A chart is {type: bar|line|pie|scatter, title, xColumn, yColumn?, aggregation?}. bar, line and
pie group rows by xColumn and show, per group, the row count (`count`, the default without a
yColumn) or the sum/avg/min/max of yColumn's numbers (`sum` by default with one). scatter plots
(xColumn, yColumn) of rows where both are numbers. Each chart comes out with `data`
(an extension): `{labels, values}` for grouped charts, `{points: [[x, y]]}` for scatter.
"""

from __future__ import annotations

from ...db import Database
from ...errors import Invalid, NotFound
from ...store import user_table_charts as store
from . import rows
from .columns import json_path

TYPES = ("bar", "line", "pie", "scatter")
AGGREGATIONS = ("count", "sum", "avg", "min", "max")
_NUMERIC = ("number", "computed")


def check_config(config: dict, columns: list[dict]) -> dict:
    """The merged config, normalised; a 400 naming the problem."""
    by_name = {c["name"]: c for c in columns}
    kind, x, y = config.get("type"), config.get("xColumn"), config.get("yColumn") or None
    if kind not in TYPES:
        raise Invalid(f"type must be one of {', '.join(TYPES)}")
    if x not in by_name:
        raise Invalid(f"xColumn: unknown column {x!r}")
    if y is not None and y not in by_name:
        raise Invalid(f"yColumn: unknown column {y!r}")
    aggregation = config.get("aggregation") or ("sum" if y else "count")
    if aggregation not in AGGREGATIONS:
        raise Invalid(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    if aggregation != "count" and y is None:
        raise Invalid(f"aggregation {aggregation} needs a yColumn")
    if kind == "scatter" and y is None:
        raise Invalid("a scatter chart needs a yColumn")
    for name in ([x, y] if kind == "scatter" else [y] if aggregation != "count" else []):
        if by_name[name]["dataType"] not in _NUMERIC:
            raise Invalid(f"column {name!r} is {by_name[name]['dataType']}, not a number")
    title = config.get("title")
    return {"type": kind, "title": title, "xColumn": x, "yColumn": y, "aggregation": aggregation}


async def figures(db: Database, table_id: str, config: dict) -> dict:
    x, y = json_path(config["xColumn"]), (json_path(config["yColumn"]) if config.get("yColumn") else None)
    if config["type"] == "scatter":
        return {"points": [[a, b] for a, b in await store.points(db, table_id, x, y)]}
    groups = await store.grouped(db, table_id, x, y, config["aggregation"], order_by_value=config["type"] == "pie")
    labels = ["(empty)" if label is None else label for label, _ in groups]
    values = [0 if value is None else (round(value, 6) if isinstance(value, float) else value) for _, value in groups]
    return {"labels": labels, "values": values}


async def _with_data(db: Database, table_id: str, chart: dict) -> dict:
    try:
        chart["data"] = await figures(db, table_id, chart["config"])
    except (KeyError, TypeError):  # a chart saved before its column was removed
        chart["data"] = None
    return chart


async def list_charts(db: Database, table_id: str) -> list[dict]:
    await rows.table_columns(db, table_id)
    return [await _with_data(db, table_id, c) for c in await store.list_charts(db, table_id)]


async def create_chart(db: Database, table_id: str, fields: dict) -> dict:
    columns = await rows.table_columns(db, table_id)
    config = check_config(fields, columns)
    name = (fields.get("title") or "").strip() or f"{config['type']} of {config['xColumn']}"
    return await store.create_chart(db, table_id, name[:256], config)


async def update_chart(db: Database, table_id: str, chart_id: str, changes: dict) -> dict:
    columns = await rows.table_columns(db, table_id)
    chart = await store.get_chart(db, table_id, chart_id)
    if chart is None:
        raise NotFound("Chart not found")
    merged = {**chart["config"], **changes}
    config = check_config(merged, columns)
    name = (changes.get("title") or "").strip()[:256] or chart["name"]
    updated = await store.update_chart(db, table_id, chart_id, name, config)
    if updated is None:
        raise NotFound("Chart not found")
    return await _with_data(db, table_id, updated)


async def delete_chart(db: Database, table_id: str, chart_id: str) -> None:
    await rows.table_columns(db, table_id)
    if not await store.delete_chart(db, table_id, chart_id):
        raise NotFound("Chart not found")

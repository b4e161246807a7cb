"""The agent's table tools, for task runs and chat: list_tables and query_table read (allowed
without asking, like read_file); add_table_rows and update_table_row write, so they ask unless
an allow pattern covers them (`add_table_rows(<table id>)`, governance/permission_patterns.py).

A table is named by its id or its exact name (case-insensitive). Rows go through
engine/tables/rows.py, as the API's do: cells checked against the column types, computed
columns filled, history kept, and triggers see the change (bounded, decision 024b). Rows an
agent writes are created by its profile id (or `agent`).
"""

from __future__ import annotations

import json

from ...errors import ApiError
from ...store import tables as table_store
from ..tables import rows
from ..tables import triggers as table_triggers
from .files import int_arg
from .tools import CHAT_TOOLS, TASK_TOOLS, ToolError, text_arg, tool

SETS = (TASK_TOOLS, CHAT_TOOLS)
MAX_QUERY_ROWS = 200
MAX_ADD_ROWS = 100
MAX_RESULT_CHARS = 60_000

TABLE = {"type": "string", "description": "The table's id or its exact name"}
FILTERS = {"type": "array", "description": "Filters, all must hold: [{column, operator, value}]; operators "
           "eq, neq, gt, gte, lt, lte, contains, starts_with, in (value a list), is_empty, is_not_empty",
           "items": {"type": "object"}}
SORTS = {"type": "array", "description": "Sorts in order: [{column, direction: asc|desc}]", "items": {"type": "object"}}


def _writer(ctx) -> str:
    task = getattr(ctx, "task", None) or {}
    profile = task.get("agentProfile")
    return profile if isinstance(profile, str) and profile and profile != "auto" else "agent"


async def _table(ctx, args: dict) -> dict:
    ref = text_arg(args, "table", required=True, limit=256)
    table = await table_store.get_table(ctx.db, ref)
    if table is None:
        named = [t for t in await table_store.list_tables(ctx.db) if t["name"].lower() == ref.lower()]
        if len(named) > 1:
            raise ToolError(f"{len(named)} tables are named {ref!r}; name one by its id: "
                            + ", ".join(t["id"] for t in named))
        table = await table_store.get_table(ctx.db, named[0]["id"]) if named else None
    if table is None:
        raise ToolError(f"no table {ref!r}; list_tables shows the tables there are")
    return table


def _json_list(args: dict, key: str) -> list:
    value = args.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):  # some models send JSON as a string
        try:
            value = json.loads(value)
        except ValueError:
            raise ToolError(f"'{key}' must be a list of objects") from None
    if not isinstance(value, list):
        raise ToolError(f"'{key}' must be a list of objects")
    return value


def _result(payload) -> str:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        return text[:MAX_RESULT_CHARS] + "\n[cut: ask for fewer rows with limit/offset or filters]"
    return text


def _columns(table: dict) -> list[dict]:
    return [{"name": c["name"], "displayName": c["displayName"], "dataType": c["dataType"],
             **({"options": c["config"]["options"]} if (c.get("config") or {}).get("options") else {})}
            for c in table["columns"]]


@tool("list_tables", "List the user's tables (structured data: clients, deals, expenses...) with their columns "
      "and row counts.",
      {"search": {"type": "string", "description": "Only tables whose name or description contains this"}},
      sets=SETS)
async def list_tables(ctx, args: dict) -> str:
    search = text_arg(args, "search", limit=200)
    tables = await table_store.list_tables(ctx.db, search=search)
    out = []
    for t in tables[:100]:
        full = await table_store.get_table(ctx.db, t["id"])
        if full is not None:
            out.append({"id": t["id"], "name": t["name"], "description": t["description"], "rowCount": t["rowCount"],
                        "columns": _columns(full)})
    return _result(out) if out else "no tables yet"


@tool("query_table", "Read rows of a table, filtered and sorted; each row is {id, data: {column: value}}.",
      {"table": TABLE, "filters": FILTERS, "sorts": SORTS,
       "limit": {"type": "integer", "description": f"At most this many rows (default 50, max {MAX_QUERY_ROWS})"},
       "offset": {"type": "integer", "description": "Skip this many rows first"}},
      ("table",), sets=SETS)
async def query_table(ctx, args: dict) -> str:
    table = await _table(ctx, args)
    limit = int_arg(args, "limit", 50, maximum=MAX_QUERY_ROWS)
    offset = int_arg(args, "offset", 0, minimum=0)
    try:
        found = await rows.query_rows(ctx.db, table["id"], _json_list(args, "filters"), _json_list(args, "sorts"),
                                      limit, offset)
    except ApiError as exc:
        raise ToolError(exc.message) from None
    return _result({"table": table["name"], "tableId": table["id"], "offset": offset,
                    "rows": [{"id": r["id"], "data": r["data"]} for r in found],
                    "more": len(found) == limit})


@tool("add_table_rows", f"Add rows to a table (at most {MAX_ADD_ROWS} per call); each row is an object "
      "{column name: value}. Columns and their types: list_tables.",
      {"table": TABLE, "rows": {"type": "array", "items": {"type": "object"},
                                "description": "Row data objects, keyed by column name"}},
      ("table", "rows"), sets=SETS)
async def add_table_rows(ctx, args: dict) -> str:
    table = await _table(ctx, args)
    data = _json_list(args, "rows")
    if not data:
        raise ToolError("'rows' must hold at least one row object")
    if len(data) > MAX_ADD_ROWS:
        raise ToolError(f"at most {MAX_ADD_ROWS} rows per call; split them")
    try:
        created = await rows.add_rows(ctx.db, table["id"], data, _writer(ctx),
                                      events=table_triggers.events_for(ctx.db))
    except ApiError as exc:
        raise ToolError(exc.message) from None
    return _result({"added": len(created), "rowIds": [r["id"] for r in created], "table": table["name"]})


@tool("update_table_row", "Change cells of one row: `data` is merged into the row (a null removes a cell).",
      {"table": TABLE, "rowId": {"type": "string", "description": "The row's id (from query_table)"},
       "data": {"type": "object", "description": "{column name: new value}"}},
      ("table", "rowId", "data"), sets=SETS)
async def update_table_row(ctx, args: dict) -> str:
    table = await _table(ctx, args)
    row_id = text_arg(args, "rowId", required=True, limit=100)
    data = args.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if not isinstance(data, dict) or not data:
        raise ToolError("'data' must be an object {column: value} with at least one cell")
    try:
        row = await rows.update_row(ctx.db, table["id"], row_id, data, _writer(ctx),
                                    events=table_triggers.events_for(ctx.db))
    except ApiError as exc:
        raise ToolError(exc.message) from None
    return _result({"updated": row["id"], "data": row["data"], "table": table["name"]})

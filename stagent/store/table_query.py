"""Row filters and sorts compiled to SQL over the JSON `data` of user_table_rows.

Input comes validated from engine/tables/query.py: each filter `{path, operator, value}` and each
sort `{path, direction}`, where `path` is the JSON path of a column that exists (`$."name"`).
Every path and value is a bound parameter; only the fixed operator fragments below are SQL text.
"""

from __future__ import annotations

import json

_CELL = "json_extract(data, ?)"
_COMPARE = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _filter(f: dict) -> tuple[str, list]:
    op, path, value = f["operator"], f["path"], f.get("value")
    if op == "eq":
        if isinstance(value, str):
            # A cheap scan of the stored text first (most rows fail it without a JSON parse): a row
            # whose cell equals `value` holds exactly `"name":"value"` (table_rows._dump's form).
            needle = json.dumps(path[3:-1], ensure_ascii=False) + ":" + json.dumps(value, ensure_ascii=False)
            return f"instr(data, ?) > 0 AND {_CELL} = ?", [needle, path, value]
        return f"{_CELL} = ?", [path, value]
    if op == "neq":  # an empty cell is "not equal" too
        return f"({_CELL} IS NULL OR {_CELL} != ?)", [path, path, value]
    if op in _COMPARE:
        return f"{_CELL} {_COMPARE[op]} ?", [path, value]
    if op == "contains":
        return f"instr(lower(CAST({_CELL} AS TEXT)), lower(?)) > 0", [path, value]
    if op == "starts_with":
        return f"substr(lower(CAST({_CELL} AS TEXT)), 1, length(?)) = lower(?)", [path, value, value]
    if op == "in":
        if not value:
            return "0", []
        return f"{_CELL} IN ({','.join('?' * len(value))})", [path, *value]
    if op == "is_empty":
        return f"({_CELL} IS NULL OR {_CELL} = '')", [path, path]
    if op == "is_not_empty":
        return f"({_CELL} IS NOT NULL AND {_CELL} != '')", [path, path]
    raise ValueError(f"unknown operator {op!r}")  # engine/tables/query.py lets none through


def compile_query(filters: list[dict], sorts: list[dict]) -> tuple[str, str, list]:
    """(` AND …` for the WHERE clause, `… , ` for the start of ORDER BY, the parameters in order)."""
    where, params = [], []
    for f in filters:
        sql, values = _filter(f)
        where.append(sql)
        params += values
    order = []
    for s in sorts:
        direction = "DESC" if s["direction"] == "desc" else "ASC"
        order.append(f"{_CELL} {direction} NULLS LAST, ")  # empty cells last either way
        params.append(s["path"])
    return "".join(f" AND {w}" for w in where), "".join(order), params

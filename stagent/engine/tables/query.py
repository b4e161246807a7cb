"""Row filters and sorts as clients send them, checked against the table's columns.

A filter is `{column, operator, value?}` with one of the 11 operators; a sort is
`{column, direction: asc|desc}`. Columns must exist; values are coerced to the column's type
(so `"5"` compares as a number in a number column). The result is what store/table_query.py
compiles to SQL with bound parameters. Every problem is a 400 that names it.
"""

from __future__ import annotations

import json

from ...errors import Invalid
from .columns import coerce_filter_value, json_path

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "in", "is_empty", "is_not_empty")
MAX_FILTERS = 50
MAX_IN_VALUES = 1000


def _decode(text, what: str):
    if text is None or text == "":
        return []
    if isinstance(text, list):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"Invalid {what} JSON: {exc}") from None
    if not isinstance(value, list):
        raise Invalid(f"Invalid {what} JSON: expected an array of objects")
    return value


def _column(columns: dict[str, dict], item: dict, where: str) -> dict:
    name = item.get("column")
    if not isinstance(name, str) or not name:
        raise Invalid(f"{where}: column is required")
    if name not in columns:
        raise Invalid(f"{where}: unknown column {name!r}")
    return columns[name]


def parse_filters(raw, columns: list[dict]) -> list[dict]:
    """A JSON string (or an already decoded list) of filters → `[{path, operator, value}]`."""
    items = _decode(raw, "filters")
    if len(items) > MAX_FILTERS:
        raise Invalid(f"Invalid filters: at most {MAX_FILTERS} filters")
    by_name = {c["name"]: c for c in columns}
    out = []
    for i, item in enumerate(items):
        where = f"filters[{i}]"
        if not isinstance(item, dict):
            raise Invalid(f"{where}: expected an object {{column, operator, value}}")
        column = _column(by_name, item, where)
        op = item.get("operator")
        if op not in OPERATORS:
            raise Invalid(f"{where}: operator must be one of {', '.join(OPERATORS)}")
        out.append({"path": json_path(column["name"]), "operator": op,
                    "value": _value(column, op, item.get("value"), where)})
    return out


def _value(column: dict, op: str, value, where: str):
    if op in ("is_empty", "is_not_empty"):
        return None
    if op == "in":
        if not isinstance(value, list):
            raise Invalid(f"{where}: operator 'in' needs value to be an array")
        if len(value) > MAX_IN_VALUES:
            raise Invalid(f"{where}: at most {MAX_IN_VALUES} values for 'in'")
        return [_one(column, v, where) for v in value]
    if value is None:
        raise Invalid(f"{where}: operator {op!r} needs a value")
    if op in ("contains", "starts_with"):
        if isinstance(value, (dict, list)):
            raise Invalid(f"{where}: value must be text for {op!r}")
        return value if isinstance(value, str) else json.dumps(value)
    return _one(column, value, where)


def _one(column: dict, value, where: str):
    if isinstance(value, (dict, list)) or value is None:
        raise Invalid(f"{where}: value must be a string, number or boolean")
    try:
        return coerce_filter_value(column, value)
    except ValueError as exc:
        raise Invalid(f"{where}: column {column['name']!r}: {exc}") from None


def parse_sorts(raw, columns: list[dict]) -> list[dict]:
    """A JSON string (or list) of sorts → `[{path, direction}]`, applied in order."""
    items = _decode(raw, "sorts")
    if len(items) > 10:
        raise Invalid("Invalid sorts: at most 10 sorts")
    by_name = {c["name"]: c for c in columns}
    out = []
    for i, item in enumerate(items):
        where = f"sorts[{i}]"
        if not isinstance(item, dict):
            raise Invalid(f"{where}: expected an object {{column, direction}}")
        column = _column(by_name, item, where)
        direction = item.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise Invalid(f"{where}: direction must be asc or desc")
        out.append({"path": json_path(column["name"]), "direction": direction})
    return out


def matches(condition: dict | list | None, data: dict, columns: list[dict]) -> bool:
    """Whether a row's data meets a trigger condition in the filter format (one filter, a list
    of filters, all must hold; None or [] always holds). Same semantics as the SQL filters."""
    if not condition:
        return True
    filters = parse_filters(condition if isinstance(condition, list) else [condition], columns)
    return all(_holds(f, data) for f in filters)


def _cell(data: dict, path: str):
    value = data.get(path[3:-1])
    return int(value) if isinstance(value, bool) else value


def _holds(f: dict, data: dict) -> bool:
    cell, op, value = _cell(data, f["path"]), f["operator"], f["value"]
    if op == "is_empty":
        return cell is None or cell == ""
    if op == "is_not_empty":
        return not (cell is None or cell == "")
    if op == "neq":
        return cell is None or cell != value
    if cell is None:
        return False
    if op == "eq":
        return cell == value
    if op == "in":
        return cell in value
    text = cell if isinstance(cell, str) else json.dumps(cell)
    if op == "contains":
        return value.lower() in text.lower()
    if op == "starts_with":
        return text.lower().startswith(value.lower())
    try:
        return {"gt": cell > value, "gte": cell >= value, "lt": cell < value, "lte": cell <= value}[op]
    except TypeError:  # SQLite orders numbers before text; mirror that
        number_first = isinstance(cell, (int, float))
        return number_first if op in ("lt", "lte") else not number_first

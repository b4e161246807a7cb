"""Computed columns: their formulas checked together, evaluated in dependency order.

A computed column reads other columns by `{{name}}` (and may list them in
`config.dependencies`); reading a column that does not exist, or a set of computed columns that
read each other in a cycle, is refused with 400. Values are materialised into the row's data on
every write, so filters and sorts on computed columns run in SQL, and evaluated again when rows
are read (a `today()` formula stays current).
"""

from __future__ import annotations

import functools

from ...errors import Invalid
from .columns import MAX_TEXT
from .formula import FormulaError, evaluate, parse, references, tidy


@functools.lru_cache(maxsize=512)
def _tree(formula: str):
    return parse(formula)


def _dependencies(column: dict) -> set[str]:
    config = column.get("config") or {}
    try:
        refs = references(_tree(config.get("formula") or ""))
    except FormulaError as exc:
        raise Invalid(f"Column {column['name']!r}: invalid formula: {exc}") from None
    listed = config.get("dependencies") or []
    if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
        raise Invalid(f"Column {column['name']!r}: config.dependencies must be a list of column names")
    return refs | set(listed)


def evaluation_order(columns: list[dict]) -> list[dict]:
    """The computed columns, each after the computed columns it reads. Raises Invalid for a bad
    formula, a reference to an unknown column, or a cycle (naming the columns in it)."""
    names = {c["name"] for c in columns}
    computed = {c["name"]: c for c in columns if c["dataType"] == "computed"}
    needs: dict[str, set[str]] = {}
    for name, column in computed.items():
        deps = _dependencies(column)
        unknown = sorted(deps - names)
        if unknown:
            raise Invalid(f"Column {name!r}: formula reads unknown column(s): {', '.join(map(repr, unknown))}")
        needs[name] = deps & computed.keys()
    order: list[dict] = []
    done: set[str] = set()
    pending = dict(needs)
    while pending:
        ready = [n for n, deps in pending.items() if deps <= done]
        if not ready:
            raise Invalid("Computed columns depend on each other in a cycle: "
                          + ", ".join(repr(n) for n in sorted(pending)))
        for name in ready:
            order.append(computed[name])
            done.add(name)
            del pending[name]
    return order


def apply(order: list[dict], data: dict) -> dict:
    """data with every computed column (in `order`) evaluated; an empty result removes the key."""
    for column in order:
        try:
            value = tidy(evaluate(_tree(column["config"]["formula"]), data))
        except (RecursionError, OverflowError, ValueError):
            value = None
        if isinstance(value, (list, dict)):
            value = None
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            value = value[:MAX_TEXT]
        if value is None:
            data.pop(column["name"], None)
        else:
            data[column["name"]] = value
    return data

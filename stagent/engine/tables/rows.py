"""Rows of user tables: the calls the API, the agent tools, imports and triggers share.

    add_rows(db, table_id, rows, created_by, events=…)      rows: data objects {column: value}
    update_row(db, table_id, row_id, data, changed_by, events=…)   merge; a null removes the key
    delete_row(db, table_id, row_id, changed_by, events=…)
    query_rows(db, table_id, filters, sorts, limit, offset)  filters/sorts: JSON text or lists
    rollback_row(db, table_id, row_id, history_entry_id, changed_by, events=…)

Each validates cells against the column types (a 400 naming the row and column), keeps
computed columns current, snapshots history before updates and deletes (store/table_rows.py),
and, given the EventBus, publishes one TableRowsChanged per write for triggers to follow.
An unknown table or row raises NotFound ("Table not found" / "Row not found").
"""

from __future__ import annotations

import asyncio
import json

from ...db import Database
from ...errors import Invalid, NotFound
from ...events import EventBus, TableRowsChanged
from ...store import table_history as history_store
from ...store import table_rows as store
from ...store import tables as table_store
from . import computed
from .columns import coercer, default_of
from .query import parse_filters, parse_sorts

MAX_LIMIT = 1000
MAX_OFFSET = 10**12


async def table_columns(db: Database, table_id: str) -> list[dict]:
    """The table's columns; NotFound when there is no such table."""
    table = await table_store.get_table(db, table_id)
    if table is None:
        raise NotFound("Table not found")
    return table["columns"]


class RowShape:
    """What a table's rows must look like, worked out once per write: a coercer per column
    (None for computed ones), defaults, required names, the computed evaluation order."""

    def __init__(self, columns: list[dict]):
        self.columns = columns
        self.order = computed.evaluation_order(columns)
        self.coercers = {c["name"]: None if c["dataType"] == "computed" else coercer(c) for c in columns}
        self.defaults = {c["name"]: default_of(c) for c in columns
                         if c["dataType"] != "computed" and default_of(c) is not None}
        self.required = [c["name"] for c in columns if c["required"] and c["dataType"] != "computed"]

    def cells(self, given: dict, data: dict, where: str) -> dict:
        """data with the given cells validated into it (a None result removes the key)."""
        if not isinstance(given, dict):
            raise Invalid(f"{where}: data must be an object")
        coercers = self.coercers
        for key, value in given.items():
            if key not in coercers:
                raise Invalid(f"{where}: unknown column {key!r}")
            convert = coercers[key]
            if convert is None:
                continue  # computed values are ours to write
            try:
                stored = convert(value)
            except ValueError as exc:
                raise Invalid(f"{where}: column {key!r}: {exc}") from None
            if stored is None:
                data.pop(key, None)
            else:
                data[key] = stored
        return data

    def finish(self, data: dict, where: str) -> dict:
        missing = [name for name in self.required if data.get(name) in (None, "")]
        if missing:
            raise Invalid(f"{where}: required column(s) missing: {', '.join(map(repr, missing))}")
        return computed.apply(self.order, data) if self.order else data

    def new(self, given: dict, where: str = "data") -> dict:
        """A new row's data: defaults, then the given cells validated, then computed values."""
        return self.finish(self.cells(given, dict(self.defaults), where), where)

    def prepare(self, rows: list[tuple[dict, str]], errors: list[dict] | None) -> list[tuple[dict, str]]:
        prepared = []
        for i, (data, by) in enumerate(rows):
            try:
                prepared.append((self.new(data, f"rows[{i}]"), by))
            except Invalid as exc:
                if errors is None:
                    raise
                errors.append({"row": i, "error": exc.message})
        return prepared


def prepare_new(columns: list[dict], given: dict, where: str = "data") -> dict:
    """A new row's data for a table with these columns (validated; computed values filled)."""
    return RowShape(columns).new(given, where)


# Preparing more rows than this at once runs in a worker thread, off the event loop.
INLINE_ROWS = 200


def _publish(events: EventBus | None, table_id: str, event: str, rows: list[dict], by: str,
             previous: list[dict] = ()) -> None:
    if events is not None and rows:
        events.publish(TableRowsChanged(table_id, event, tuple(rows), by, tuple(previous)))


async def add_rows(db: Database, table_id: str, rows: list[dict], created_by: str = "user", *,
                   events: EventBus | None = None, errors: list[dict] | None = None) -> list[dict]:
    """Append rows (each a data object) and return them as the API shows them.

    Without `errors`, one bad row refuses the whole batch (Invalid naming `rows[i]`). With a
    list, bad rows are skipped and `{"row": i, "error": message}` appended for each (imports)."""
    return await add_rows_by(db, table_id, [(data, created_by) for data in rows], events=events, errors=errors)


async def add_rows_by(db: Database, table_id: str, rows: list[tuple[dict, str]], *,
                      events: EventBus | None = None, errors: list[dict] | None = None) -> list[dict]:
    """add_rows with a creator per row: `[(data, created_by)]`."""
    shape = RowShape(await table_columns(db, table_id))
    if len(rows) > INLINE_ROWS:
        prepared = await asyncio.to_thread(shape.prepare, rows, errors)
    else:
        prepared = shape.prepare(rows, errors)
    if not prepared:
        return []

    def write(conn):
        if table_store.get_table_in(conn, table_id) is None:
            raise NotFound("Table not found")
        return store.insert_rows_in(conn, table_id, prepared)

    created = await db.write(write)
    by = prepared[0][1] if len({b for _, b in prepared}) == 1 else "user"
    _publish(events, table_id, "row_added", created, by)
    return created


async def update_row(db: Database, table_id: str, row_id: str, data: dict, changed_by: str = "user", *,
                     events: EventBus | None = None) -> dict:
    """Merge `data` into the row (a null removes the key); history first; the updated row."""
    shape = RowShape(await table_columns(db, table_id))
    shape.cells(data, {}, "data")  # refuse bad cells before taking the writer

    def merge(current: dict) -> dict:
        return shape.finish(shape.cells(data, current, "data"), "data")

    result = await db.write(lambda conn: store.update_row_in(conn, table_id, row_id, merge, changed_by))
    if result is None:
        raise NotFound("Row not found")
    previous, row = result
    _publish(events, table_id, "row_updated", [row], changed_by, [previous])
    return row


async def delete_row(db: Database, table_id: str, row_id: str, changed_by: str = "user", *,
                     events: EventBus | None = None) -> dict:
    """Delete the row (its data goes to history first); the row as it was."""
    await table_columns(db, table_id)
    row = await db.write(lambda conn: store.delete_row_in(conn, table_id, row_id, changed_by))
    if row is None:
        raise NotFound("Row not found")
    _publish(events, table_id, "row_deleted", [row], changed_by)
    return row


async def rollback_row(db: Database, table_id: str, row_id: str, entry_id: str, changed_by: str = "user", *,
                       events: EventBus | None = None) -> dict:
    """Put the row's data back as the history entry recorded it. The current data is itself
    snapshotted first, so a rollback can be undone; a deleted row comes back under its id."""
    columns = await table_columns(db, table_id)
    order = computed.evaluation_order(columns)
    known = {c["name"] for c in columns}

    def write(conn):
        entry = history_store.entry_in(conn, table_id, row_id, entry_id)
        if entry is None:
            raise NotFound("History entry not found")
        data = {k: v for k, v in json.loads(entry["previous_data"] or "{}").items() if k in known}
        data = computed.apply(order, data)
        if store.get_row_in(conn, table_id, row_id) is None:
            return "row_added", None, store.restore_row_in(conn, table_id, row_id, data, changed_by)
        previous, row = store.update_row_in(conn, table_id, row_id, lambda _: data, changed_by)
        return "row_updated", previous, row

    event, previous, row = await db.write(write)
    _publish(events, table_id, event, [row], changed_by, [previous] if previous is not None else [])
    return row


def _limit(value, default: int, maximum: int, name: str = "limit") -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be an integer") from None
    if not 1 <= number <= maximum:
        raise Invalid(f"{name} must be between 1 and {maximum}")
    return number


def _offset(value) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid("offset must be an integer") from None
    if not 0 <= number <= MAX_OFFSET:
        raise Invalid(f"offset must be between 0 and {MAX_OFFSET}")
    return number


async def query_rows(db: Database, table_id: str, filters=None, sorts=None, limit=100, offset=0) -> list[dict]:
    """A page of rows matching all filters, sorted (then by position); computed values fresh and
    relation cells resolved to their display column under `display`."""
    columns = await table_columns(db, table_id)
    parsed_filters, parsed_sorts = parse_filters(filters, columns), parse_sorts(sorts, columns)
    rows = await store.query_rows(db, table_id, parsed_filters, parsed_sorts, _limit(limit, 100, MAX_LIMIT),
                                  _offset(offset))
    order = computed.evaluation_order(columns)
    if order:
        for row in rows:
            computed.apply(order, row["data"])
    await resolve_relations(db, columns, rows)
    return rows


async def resolve_relations(db: Database, columns: list[dict], rows: list[dict]) -> None:
    """row["display"][column] = the target row's displayColumn value (a list for a list of ids);
    ids of rows that no longer exist resolve to None."""
    for column in columns:
        config = column.get("config") or {}
        target, shown = config.get("targetTableId"), config.get("displayColumn")
        if column["dataType"] != "relation" or not target or not rows:
            continue
        ids = set()
        for row in rows:
            value = row["data"].get(column["name"])
            ids.update(value if isinstance(value, list) else [value] if value else [])
        found = {r["id"]: r["data"] for r in await store.rows_by_ids(db, target, sorted(ids))}

        def label(row_id, found=found, shown=shown):
            data = found.get(row_id)
            return None if data is None else (data.get(shown) if shown else row_id)

        for row in rows:
            value = row["data"].get(column["name"])
            if value:
                row.setdefault("display", {})[column["name"]] = (
                    [label(v) for v in value] if isinstance(value, list) else label(value))


def page_limit(value, default: int, maximum: int) -> int:
    """A history `limit` query parameter, checked (400) against its documented maximum."""
    return _limit(value, default, maximum)

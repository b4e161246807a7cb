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

import json

from ...db import Database
from ...errors import Invalid, NotFound
from ...events import EventBus, TableRowsChanged
from ...store import table_history as history_store
from ...store import table_rows as store
from ...store import tables as table_store
from . import computed
from .columns import coerce, default_of
from .query import parse_filters, parse_sorts

MAX_LIMIT = 1000


async def table_columns(db: Database, table_id: str) -> list[dict]:
    """The table's columns; NotFound when there is no such table."""
    table = await table_store.get_table(db, table_id)
    if table is None:
        raise NotFound("Table not found")
    return table["columns"]


def _cells(columns: dict[str, dict], given: dict, data: dict, where: str) -> dict:
    if not isinstance(given, dict):
        raise Invalid(f"{where}: data must be an object")
    for key, value in given.items():
        column = columns.get(key)
        if column is None:
            raise Invalid(f"{where}: unknown column {key!r}")
        if column["dataType"] == "computed":
            continue  # computed values are ours to write
        try:
            stored = coerce(column, value)
        except ValueError as exc:
            raise Invalid(f"{where}: column {key!r}: {exc}") from None
        if stored is None:
            data.pop(key, None)
        else:
            data[key] = stored
    return data


def _finish(columns: list[dict], order: list[dict], data: dict, where: str) -> dict:
    missing = [c["name"] for c in columns if c["required"] and c["dataType"] != "computed"
               and data.get(c["name"]) in (None, "")]
    if missing:
        raise Invalid(f"{where}: required column(s) missing: {', '.join(map(repr, missing))}")
    return computed.apply(order, data)


def prepare_new(columns: list[dict], order: list[dict], given: dict, where: str = "data") -> dict:
    """A new row's data: defaults, then the given cells validated, then computed values."""
    data = {c["name"]: default_of(c) for c in columns if default_of(c) is not None and c["dataType"] != "computed"}
    return _finish(columns, order, _cells({c["name"]: c for c in columns}, given, data, where), where)


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
    columns = await table_columns(db, table_id)
    order = computed.evaluation_order(columns)
    prepared = []
    for i, (data, by) in enumerate(rows):
        try:
            prepared.append((prepare_new(columns, order, data, f"rows[{i}]"), by))
        except Invalid as exc:
            if errors is None:
                raise
            errors.append({"row": i, "error": exc.message})
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
    columns = await table_columns(db, table_id)
    order = computed.evaluation_order(columns)
    by_name = {c["name"]: c for c in columns}
    _cells(by_name, data, {}, "data")  # refuse bad cells before taking the writer

    def merge(current: dict) -> dict:
        return _finish(columns, order, _cells(by_name, data, current, "data"), "data")

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
    if number < 0:
        raise Invalid("offset must be 0 or more")
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

        def label(row_id):
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

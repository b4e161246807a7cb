"""Tables and their columns: creation with typed columns, adding and reordering columns.

Column definitions are validated one by one (engine/tables/columns.py) and computed formulas
all together (engine/tables/computed.py: unknown references and cycles are 400s). Adding a
computed column fills its values into every existing row in the same transaction.
"""

from __future__ import annotations

from ...db import Database
from ...errors import Invalid
from ...store import table_rows as row_store
from ...store import tables as store
from . import computed
from .columns import validate_column
from .rows import table_columns

MAX_COLUMNS = 200


def validate_columns(columns: list[dict]) -> list[dict]:
    """Client column definitions for a new table, normalised; names unique, formulas sound."""
    if len(columns) > MAX_COLUMNS:
        raise Invalid(f"A table may have at most {MAX_COLUMNS} columns")
    checked: list[dict] = []
    for i, column in enumerate(columns):
        if not isinstance(column, dict):
            raise Invalid(f"columns[{i}]: expected an object")
        try:
            checked.append(validate_column(column, checked))
        except Invalid as exc:
            raise Invalid(f"columns[{i}]: {exc.message}") from None
    computed.evaluation_order(checked)
    return checked


async def create_table(db: Database, fields: dict, columns: list[dict]) -> dict:
    """A new table (fields: name, description, project_id, source, template_id) with its
    columns; returns the table with `columns`."""
    checked = validate_columns(columns)
    table_id = await store.create_table(db, fields, checked)
    return await store.get_table(db, table_id)


async def add_column(db: Database, table_id: str, column: dict) -> dict:
    """Append a column; a computed one is evaluated into every row at once. NotFound / Invalid."""
    columns = await table_columns(db, table_id)
    if len(columns) >= MAX_COLUMNS:
        raise Invalid(f"A table may have at most {MAX_COLUMNS} columns")
    checked = validate_column(column, columns)
    order = computed.evaluation_order([*columns, checked])

    def write(conn):
        created = store.add_column_in(conn, table_id, checked)
        if checked["dataType"] == "computed":
            row_store.rewrite_all_in(conn, table_id, lambda data: computed.apply(order, data))
        return created

    return await db.write(write)


async def reorder_columns(db: Database, table_id: str, column_ids: list[str]) -> list[dict]:
    """The listed columns first in that order (the rest after, as they were)."""
    columns = await table_columns(db, table_id)
    known = {c["id"] for c in columns}
    unknown = [c for c in column_ids if c not in known]
    if unknown:
        raise Invalid(f"Unknown column id(s): {', '.join(unknown[:5])}")
    if len(set(column_ids)) != len(column_ids):
        raise Invalid("columnIds lists a column more than once")
    return await store.reorder_columns(db, table_id, column_ids)

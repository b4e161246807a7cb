"""user_tables and user_table_columns: a user's tables and their typed columns.

Columns come out as API dicts with `config` parsed and `required` a bool; `column_schema` on the
table is a denormalised JSON copy of the columns (documented as a JSON string), rewritten by
every column change in the same transaction.
"""

from __future__ import annotations

import sqlite3

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict

SOURCES = ("manual", "imported", "agent", "template")
_TABLE_OUT = ("id", "projectId", "name", "description", "columnSchema", "rowCount", "source", "templateId",
              "createdAt", "updatedAt")
_COLUMN_OUT = ("id", "tableId", "name", "displayName", "dataType", "position", "required", "defaultValue",
               "config", "createdAt", "updatedAt")


def table_to_api(row) -> dict:
    out = row_to_dict(row)
    api = {k: out.get(k) for k in _TABLE_OUT}
    for extra in ("projectName", "columnCount"):
        if extra in out:
            api[extra] = out[extra]
    return api


def column_to_api(row) -> dict:
    out = row_to_dict(row, bools=("required",))
    out["config"] = loads(out.get("config"))
    return {k: out.get(k) for k in _COLUMN_OUT}


def _schema_entry(column: dict) -> dict:
    return {k: column.get(k) for k in ("name", "displayName", "dataType", "position", "required",
                                        "defaultValue", "config")}


def columns_in(conn: sqlite3.Connection, table_id: str) -> list[dict]:
    rows = conn.execute("SELECT * FROM user_table_columns WHERE table_id = ? ORDER BY position, created_at",
                        (table_id,)).fetchall()
    return [column_to_api(r) for r in rows]


def _refresh_schema(conn: sqlite3.Connection, table_id: str, now: str) -> list[dict]:
    columns = columns_in(conn, table_id)
    conn.execute("UPDATE user_tables SET column_schema = ?, updated_at = ? WHERE id = ?",
                 (dumps([_schema_entry(c) for c in columns]), now, table_id))
    return columns


def _insert_column(conn: sqlite3.Connection, table_id: str, column: dict, position: int, now: str) -> str:
    column_id = new_id()
    conn.execute(
        "INSERT INTO user_table_columns (id, table_id, name, display_name, data_type, position, required, "
        "default_value, config, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (column_id, table_id, column["name"], column["displayName"], column["dataType"], position,
         int(bool(column.get("required"))), column.get("defaultValue"), dumps(column.get("config")), now, now))
    return column_id


def insert_table_in(conn: sqlite3.Connection, fields: dict, columns: list[dict]) -> str:
    """A table and its columns (already validated), in the caller's transaction."""
    table_id, now = new_id(), now_iso()
    conn.execute(
        "INSERT INTO user_tables (id, project_id, name, description, source, template_id, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (table_id, fields.get("project_id"), fields["name"], fields.get("description"),
         fields.get("source") or "manual", fields.get("template_id"), now, now))
    for position, column in enumerate(columns):
        _insert_column(conn, table_id, column, position, now)
    _refresh_schema(conn, table_id, now)
    return table_id


async def create_table(db: Database, fields: dict, columns: list[dict]) -> str:
    return await db.write(lambda conn: insert_table_in(conn, fields, columns))


_LIST = ("SELECT t.*, p.name AS project_name, "
         "(SELECT COUNT(*) FROM user_table_columns c WHERE c.table_id = t.id) AS column_count "
         "FROM user_tables t LEFT JOIN projects p ON p.id = t.project_id")


async def list_tables(db: Database, project_id: str | None = None, source: str | None = None,
                      search: str | None = None) -> list[dict]:
    where, params = [], []
    if project_id:
        where.append("t.project_id = ?")
        params.append(project_id)
    if source:
        where.append("t.source = ?")
        params.append(source)
    if search:
        where.append("(instr(lower(t.name), lower(?)) > 0 OR instr(lower(COALESCE(t.description, '')), lower(?)) > 0)")
        params += [search, search]
    sql = _LIST + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY t.updated_at DESC, t.rowid DESC"
    return [table_to_api(r) for r in await db.fetchall(sql, params)]


def get_table_in(conn: sqlite3.Connection, table_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM user_tables WHERE id = ?", (table_id,)).fetchone()
    return table_to_api(row) if row else None


async def get_table(db: Database, table_id: str) -> dict | None:
    """The table with its `columns`, or None."""

    def read(conn):
        table = get_table_in(conn, table_id)
        if table is not None:
            table["columns"] = columns_in(conn, table_id)
        return table

    return await db.read(read)


async def get_columns(db: Database, table_id: str) -> list[dict]:
    return await db.read(lambda conn: columns_in(conn, table_id))


async def update_table(db: Database, table_id: str, changes: dict) -> bool:
    """Set name, description and/or project_id; False when there is no such table."""
    changes = {k: v for k, v in changes.items() if k in ("name", "description", "project_id")}
    sets = "".join(f"{k} = ?, " for k in changes)
    return await db.execute(f"UPDATE user_tables SET {sets}updated_at = ? WHERE id = ?",
                            (*changes.values(), now_iso(), table_id)) > 0


async def delete_table(db: Database, table_id: str) -> bool:
    """Rows, columns, history, triggers, charts and imports go with it (ON DELETE CASCADE)."""
    return await db.execute("DELETE FROM user_tables WHERE id = ?", (table_id,)) > 0


def add_column_in(conn: sqlite3.Connection, table_id: str, column: dict) -> dict:
    """Append a column (already validated, name free) and return it."""
    now = now_iso()
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM user_table_columns WHERE table_id = ?",
                            (table_id,)).fetchone()[0]
    column_id = _insert_column(conn, table_id, column, position, now)
    _refresh_schema(conn, table_id, now)
    row = conn.execute("SELECT * FROM user_table_columns WHERE id = ?", (column_id,)).fetchone()
    return column_to_api(row)


async def reorder_columns(db: Database, table_id: str, column_ids: list[str]) -> list[dict]:
    """The listed columns first, in that order, then the others as they were."""

    def write(conn):
        current = [c["id"] for c in columns_in(conn, table_id)]
        order = column_ids + [c for c in current if c not in set(column_ids)]
        conn.executemany("UPDATE user_table_columns SET position = ? WHERE id = ? AND table_id = ?",
                         [(i, column_id, table_id) for i, column_id in enumerate(order)])
        return _refresh_schema(conn, table_id, now_iso())

    return await db.write(write)


async def table_exists(db: Database, table_id: str) -> bool:
    return bool(await db.scalar("SELECT 1 FROM user_tables WHERE id = ?", (table_id,)))

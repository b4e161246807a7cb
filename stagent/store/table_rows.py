"""user_table_rows: rows of a user table, `data` a JSON object keyed by column name.

Every update and delete snapshots the row's previous data into user_table_row_history in the
same transaction (store/table_history.py reads it). `row_count` and `updated_at` of the table
follow every insert and delete. Row queries are compiled to SQL by store/table_query.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ..db import Database
from ..db.rows import new_id, now_iso
from .table_query import compile_query

_COLUMNS = "id, table_id, data, position, created_by, created_at, updated_at"


def row_to_api(row) -> dict:
    """The row as the API shows it: `data` an object (decision 024)."""
    return {"id": row["id"], "tableId": row["table_id"], "data": json.loads(row["data"] or "{}"),
            "position": row["position"], "createdBy": row["created_by"], "createdAt": row["created_at"],
            "updatedAt": row["updated_at"]}


def _dump(data: dict) -> str:
    """The one stored form of row data (compact separators): table_query's `eq` pre-scan relies on it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _touch_table(conn: sqlite3.Connection, table_id: str, now: str, delta: int = 0) -> None:
    conn.execute("UPDATE user_tables SET row_count = row_count + ?, updated_at = ? WHERE id = ?",
                 (delta, now, table_id))


def snapshot_in(conn: sqlite3.Connection, row, changed_by: str, change_type: str, now: str) -> None:
    conn.execute(
        "INSERT INTO user_table_row_history (id, row_id, table_id, previous_data, changed_by, change_type, "
        "created_at) VALUES (?,?,?,?,?,?,?)",
        (new_id(), row["id"], row["table_id"], row["data"], changed_by, change_type, now))


def insert_rows_in(conn: sqlite3.Connection, table_id: str, rows: list[tuple[dict, str]]) -> list[dict]:
    """Append rows (data already validated, created_by) at the end; return them as API dicts."""
    now = now_iso()
    start = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM user_table_rows WHERE table_id = ?",
                         (table_id,)).fetchone()[0]
    out, params = [], []
    for offset, (data, created_by) in enumerate(rows):
        row_id = new_id()
        params.append((row_id, table_id, _dump(data), start + offset, created_by, now, now))
        out.append({"id": row_id, "tableId": table_id, "data": data, "position": start + offset,
                    "createdBy": created_by, "createdAt": now, "updatedAt": now})
    conn.executemany(f"INSERT INTO user_table_rows ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)", params)
    _touch_table(conn, table_id, now, len(out))
    return out


def get_row_in(conn: sqlite3.Connection, table_id: str, row_id: str):
    return conn.execute(f"SELECT {_COLUMNS} FROM user_table_rows WHERE id = ? AND table_id = ?",
                        (row_id, table_id)).fetchone()


async def get_row(db: Database, table_id: str, row_id: str) -> dict | None:
    row = await db.read(lambda conn: get_row_in(conn, table_id, row_id))
    return row_to_api(row) if row else None


def update_row_in(conn: sqlite3.Connection, table_id: str, row_id: str, make_data: Callable[[dict], dict],
                  changed_by: str) -> tuple[dict, dict] | None:
    """Snapshot the row, then set `data = make_data(current data)` (which may raise to refuse).
    Returns (previous data, the updated row) or None when there is no such row."""
    row = get_row_in(conn, table_id, row_id)
    if row is None:
        return None
    previous = json.loads(row["data"] or "{}")
    data = make_data(dict(previous))
    now = now_iso()
    snapshot_in(conn, row, changed_by, "update", now)
    conn.execute("UPDATE user_table_rows SET data = ?, updated_at = ? WHERE id = ?", (_dump(data), now, row_id))
    _touch_table(conn, table_id, now)
    return previous, row_to_api(get_row_in(conn, table_id, row_id))


def delete_row_in(conn: sqlite3.Connection, table_id: str, row_id: str, changed_by: str) -> dict | None:
    """Snapshot then delete; the row as it was, or None when there is no such row."""
    row = get_row_in(conn, table_id, row_id)
    if row is None:
        return None
    now = now_iso()
    snapshot_in(conn, row, changed_by, "delete", now)
    conn.execute("DELETE FROM user_table_rows WHERE id = ?", (row_id,))
    _touch_table(conn, table_id, now, -1)
    return row_to_api(row)


def restore_row_in(conn: sqlite3.Connection, table_id: str, row_id: str, data: dict, created_by: str) -> dict:
    """Put a deleted row back under its own id, at the end of the table."""
    now = now_iso()
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM user_table_rows WHERE table_id = ?",
                            (table_id,)).fetchone()[0]
    conn.execute(f"INSERT INTO user_table_rows ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                 (row_id, table_id, _dump(data), position, created_by, now, now))
    _touch_table(conn, table_id, now, 1)
    return row_to_api(get_row_in(conn, table_id, row_id))


def rewrite_all_in(conn: sqlite3.Connection, table_id: str, transform: Callable[[dict], dict]) -> int:
    """data = transform(data) for every row of the table (a computed column was added); no history:
    the user's own values do not change. Returns how many rows changed."""
    changed = []
    for row in conn.execute("SELECT id, data FROM user_table_rows WHERE table_id = ?", (table_id,)):
        data = json.loads(row["data"] or "{}")
        new = transform(dict(data))
        if new != data:
            changed.append((_dump(new), row["id"]))
    conn.executemany("UPDATE user_table_rows SET data = ? WHERE id = ?", changed)
    return len(changed)


async def query_rows(db: Database, table_id: str, filters: list[dict], sorts: list[dict],
                     limit: int, offset: int) -> list[dict]:
    """Rows matching every filter, ordered by the sorts then position (see table_query)."""
    where, order, params = compile_query(filters, sorts)
    sql = (f"SELECT {_COLUMNS} FROM user_table_rows WHERE table_id = ?{where} "
           f"ORDER BY {order}position, id LIMIT ? OFFSET ?")
    rows = await db.fetchall(sql, [table_id, *params, limit, offset])
    return [row_to_api(r) for r in rows]


async def rows_by_ids(db: Database, table_id: str, row_ids: list[str]) -> list[dict]:
    """Rows of one table by id (relation targets); unknown ids are left out. In chunks: SQLite
    binds at most 32,766 parameters per statement."""
    out = []
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(f"SELECT {_COLUMNS} FROM user_table_rows WHERE table_id = ? AND id IN ({marks})",
                                 [table_id, *chunk])
        out += [row_to_api(r) for r in rows]
    return out

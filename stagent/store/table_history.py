"""user_table_row_history: a row's data before each update or delete, newest first.

`previousData` stays a JSON string, as documented. The snapshots themselves are written by
store/table_rows.py inside the write that changes the row.
"""

from __future__ import annotations

import sqlite3

from ..db import Database

_OUT = "id, row_id, table_id, previous_data, changed_by, change_type, created_at"


def history_to_api(row) -> dict:
    return {"id": row["id"], "rowId": row["row_id"], "tableId": row["table_id"],
            "previousData": row["previous_data"], "changedBy": row["changed_by"],
            "changeType": row["change_type"], "createdAt": row["created_at"]}


async def table_history(db: Database, table_id: str, limit: int) -> list[dict]:
    rows = await db.fetchall(f"SELECT {_OUT} FROM user_table_row_history WHERE table_id = ? "
                             "ORDER BY seq DESC LIMIT ?", (table_id, limit))
    return [history_to_api(r) for r in rows]


async def row_history(db: Database, table_id: str, row_id: str, limit: int) -> list[dict]:
    rows = await db.fetchall(f"SELECT {_OUT} FROM user_table_row_history WHERE row_id = ? AND table_id = ? "
                             "ORDER BY seq DESC LIMIT ?", (row_id, table_id, limit))
    return [history_to_api(r) for r in rows]


async def row_has_history(db: Database, table_id: str, row_id: str) -> bool:
    return bool(await db.scalar("SELECT 1 FROM user_table_row_history WHERE row_id = ? AND table_id = ? LIMIT 1",
                                (row_id, table_id)))


def entry_in(conn: sqlite3.Connection, table_id: str, row_id: str, entry_id: str):
    return conn.execute(f"SELECT {_OUT} FROM user_table_row_history WHERE id = ? AND row_id = ? AND table_id = ?",
                        (entry_id, row_id, table_id)).fetchone()

"""Saved charts: user_table_views rows of type `chart`, `config` {type, title, xColumn, yColumn,
aggregation}; and the figures a chart draws, aggregated in SQL over the rows' JSON data."""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict

MAX_GROUPS = 200
MAX_POINTS = 1000
_AGGREGATES = {"sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}


def to_api(row) -> dict:
    out = row_to_dict(row, bools=("is_default",))
    out["config"] = loads(out.get("config"), {})
    return out


async def list_charts(db: Database, table_id: str) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM user_table_views WHERE table_id = ? AND type = 'chart' "
                             "ORDER BY created_at, rowid", (table_id,))
    return [to_api(r) for r in rows]


async def get_chart(db: Database, table_id: str, chart_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM user_table_views WHERE id = ? AND table_id = ? AND type = 'chart'",
                            (chart_id, table_id))
    return to_api(row) if row else None


async def create_chart(db: Database, table_id: str, name: str, config: dict) -> dict:
    chart_id, now = new_id(), now_iso()

    def write(conn):
        conn.execute("INSERT INTO user_table_views (id, table_id, name, type, config, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?)", (chart_id, table_id, name, "chart", dumps(config), now, now))
        return to_api(conn.execute("SELECT * FROM user_table_views WHERE id = ?", (chart_id,)).fetchone())

    return await db.write(write)


async def update_chart(db: Database, table_id: str, chart_id: str, name: str, config: dict) -> dict | None:
    def write(conn):
        if not conn.execute("UPDATE user_table_views SET name = ?, config = ?, updated_at = ? "
                            "WHERE id = ? AND table_id = ? AND type = 'chart'",
                            (name, dumps(config), now_iso(), chart_id, table_id)).rowcount:
            return None
        return to_api(conn.execute("SELECT * FROM user_table_views WHERE id = ?", (chart_id,)).fetchone())

    return await db.write(write)


async def delete_chart(db: Database, table_id: str, chart_id: str) -> bool:
    return await db.execute("DELETE FROM user_table_views WHERE id = ? AND table_id = ? AND type = 'chart'",
                            (chart_id, table_id)) > 0


async def grouped(db: Database, table_id: str, x_path: str, y_path: str | None, aggregation: str,
                  order_by_value: bool = False) -> list[tuple]:
    """[(x, value)] per distinct x: COUNT(*) or the aggregate of y's numbers; x ascending, or
    value descending (pie), at most MAX_GROUPS groups."""
    if aggregation == "count" or y_path is None:
        value, params = "COUNT(*)", [x_path]
    else:
        # only numbers count: text in a number column would otherwise add as 0
        value = (f"{_AGGREGATES[aggregation]}(CASE WHEN json_type(data, ?) IN ('integer', 'real') "
                 "THEN json_extract(data, ?) END)")
        params = [x_path, y_path, y_path]
    order = "value DESC, x" if order_by_value else "(x IS NULL), x"
    sql = (f"SELECT json_extract(data, ?) AS x, {value} AS value FROM user_table_rows WHERE table_id = ? "
           f"GROUP BY 1 ORDER BY {order} LIMIT {MAX_GROUPS}")
    return [(r["x"], r["value"]) for r in await db.fetchall(sql, [*params, table_id])]


async def points(db: Database, table_id: str, x_path: str, y_path: str) -> list[tuple]:
    """[(x, y)] of rows where both are numbers, in row order, at most MAX_POINTS."""
    sql = ("SELECT json_extract(data, ?) AS x, json_extract(data, ?) AS y FROM user_table_rows "
           "WHERE table_id = ? AND json_type(data, ?) IN ('integer', 'real') "
           "AND json_type(data, ?) IN ('integer', 'real') ORDER BY position LIMIT ?")
    rows = await db.fetchall(sql, (x_path, y_path, table_id, x_path, y_path, MAX_POINTS))
    return [(r["x"], r["y"]) for r in rows]

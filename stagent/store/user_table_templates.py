"""user_table_templates: the user's own table templates (scope `user`), saved from a table.

`columnSchema` and `sampleData` come out parsed (lists), as the built-in templates in
engine/tables/template_catalog.py are.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict

_OUT = ("id", "name", "description", "category", "columnSchema", "sampleData", "scope", "icon", "createdAt",
        "updatedAt")


def to_api(row) -> dict:
    out = row_to_dict(row)
    out["columnSchema"] = loads(out.get("columnSchema"), [])
    out["sampleData"] = loads(out.get("sampleData"), [])
    return {k: out.get(k) for k in _OUT}


async def list_templates(db: Database, category: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM user_table_templates", []
    if category:
        sql += " WHERE category = ?"
        params.append(category)
    return [to_api(r) for r in await db.fetchall(sql + " ORDER BY name COLLATE NOCASE, created_at", params)]


async def get_template(db: Database, template_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM user_table_templates WHERE id = ?", (template_id,))
    return to_api(row) if row else None


async def create_template(db: Database, fields: dict) -> dict:
    template_id, now = new_id(), now_iso()

    def write(conn):
        conn.execute(
            "INSERT INTO user_table_templates (id, name, description, category, column_schema, sample_data, scope, "
            "icon, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (template_id, fields["name"], fields.get("description"), fields.get("category") or "business",
             dumps(fields.get("columns") or []), dumps(fields.get("sample_data") or []), "user", fields.get("icon"),
             now, now))
        return to_api(conn.execute("SELECT * FROM user_table_templates WHERE id = ?", (template_id,)).fetchone())

    return await db.write(write)

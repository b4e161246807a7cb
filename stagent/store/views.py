"""views: saved views of a UI surface (filters, sorting, columns, density, default).

`filters`, `sorting` and `columns` are JSON texts and come out as strings, as documented.
At most one view per surface is the default: setting one clears the others in the same write.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict

DENSITIES = ("compact", "comfortable", "spacious")
_OUT = ("id", "surface", "name", "filters", "sorting", "columns", "density", "isDefault", "createdAt", "updatedAt")
_JSON_FIELDS = ("filters", "sorting", "columns")


def to_api(row) -> dict:
    out = row_to_dict(row, bools=("is_default",))
    return {k: out.get(k) for k in _OUT}


async def list_views(db: Database, surface: str) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM views WHERE surface = ? ORDER BY is_default DESC, name COLLATE NOCASE, "
                             "created_at", (surface,))
    return [to_api(r) for r in rows]


def _clear_default(conn, surface: str, keep: str, now: str) -> None:
    conn.execute("UPDATE views SET is_default = 0, updated_at = ? WHERE surface = ? AND id != ? AND is_default = 1",
                 (now, surface, keep))


async def create_view(db: Database, fields: dict) -> dict:
    view_id, now = new_id(), now_iso()

    def write(conn):
        conn.execute(
            "INSERT INTO views (id, surface, name, filters, sorting, columns, density, is_default, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (view_id, fields["surface"], fields["name"], *(dumps(fields.get(k)) for k in _JSON_FIELDS),
             fields.get("density") or "comfortable", int(bool(fields.get("is_default"))), now, now))
        if fields.get("is_default"):
            _clear_default(conn, fields["surface"], view_id, now)
        return to_api(conn.execute("SELECT * FROM views WHERE id = ?", (view_id,)).fetchone())

    return await db.write(write)


async def update_view(db: Database, view_id: str, changes: dict) -> dict | None:
    """Apply the given fields (JSON ones stored as text); None when there is no such view."""

    def write(conn):
        row = conn.execute("SELECT * FROM views WHERE id = ?", (view_id,)).fetchone()
        if row is None:
            return None
        now = now_iso()
        values = {k: (dumps(v) if k in _JSON_FIELDS else int(bool(v)) if k == "is_default" else v)
                  for k, v in changes.items() if k in ("name", "density", "is_default", *_JSON_FIELDS)}
        if values:
            sets = "".join(f"{k} = ?, " for k in values)
            conn.execute(f"UPDATE views SET {sets}updated_at = ? WHERE id = ?", (*values.values(), now, view_id))
        if changes.get("is_default"):
            _clear_default(conn, row["surface"], view_id, now)
        return to_api(conn.execute("SELECT * FROM views WHERE id = ?", (view_id,)).fetchone())

    return await db.write(write)


async def delete_view(db: Database, view_id: str) -> bool:
    return await db.execute("DELETE FROM views WHERE id = ?", (view_id,)) > 0

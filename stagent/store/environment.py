"""environment_*: scans and their artifacts, checkpoints, sync operations, templates.

Rows come out as the catalog's camelCase objects; JSON columns (`persona`, `errors`,
`metadata`, `manifest`) stay JSON strings, as the original's rows carry them. Artifacts are
written already masked (engine/environment/secrets.py).
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict

_ARTIFACT_COLUMNS = ("tool", "category", "scope", "name", "rel_path", "abs_path", "content_hash", "preview",
                     "metadata", "size_bytes", "modified_at")


# ---- scans and artifacts ----------------------------------------------------------------------

async def insert_scan(db: Database, scan: dict, artifacts: list[dict]) -> str:
    """A finished scan and its artifacts, in one transaction."""
    scan_id, now = new_id(), now_iso()

    def write(conn):
        conn.execute(
            "INSERT INTO environment_scans (id, project_id, scan_path, home_path, persona, scan_status, "
            "artifact_count, duration_ms, errors, scanned_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (scan_id, scan.get("project_id"), scan["scan_path"], scan["home_path"], dumps(scan["persona"]),
             scan["status"], len(artifacts), scan["duration_ms"], dumps(scan["errors"]), now, now))
        conn.executemany(
            f"INSERT INTO environment_artifacts (id, scan_id, {', '.join(_ARTIFACT_COLUMNS)}, created_at) "
            f"VALUES (?, ?, {', '.join('?' for _ in _ARTIFACT_COLUMNS)}, ?)",
            [(new_id(), scan_id, *(dumps(a[c]) if c == "metadata" else a[c] for c in _ARTIFACT_COLUMNS), now)
             for a in artifacts])
        return scan_id

    return await db.write(write)


async def get_scan(db: Database, scan_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM environment_scans WHERE id = ?", (scan_id,))
    return row_to_dict(row) if row else None


async def latest_scan(db: Database, project_id: str | None = None, scan_path: str | None = None) -> dict | None:
    sql, params = "SELECT * FROM environment_scans WHERE 1=1", []
    if project_id:
        sql += " AND project_id = ?"
        params.append(project_id)
    if scan_path:
        sql += " AND scan_path = ?"
        params.append(scan_path)
    row = await db.fetchone(sql + " ORDER BY scanned_at DESC, rowid DESC LIMIT 1", params)
    return row_to_dict(row) if row else None


async def counts(db: Database, scan_id: str) -> tuple[dict, dict]:
    """(categoryCounts, toolCounts) of a scan."""
    rows = await db.fetchall("SELECT category, tool, COUNT(*) AS n FROM environment_artifacts WHERE scan_id = ? "
                             "GROUP BY category, tool", (scan_id,))
    categories: dict[str, int] = {}
    tools: dict[str, int] = {}
    for row in rows:
        categories[row["category"]] = categories.get(row["category"], 0) + row["n"]
        tools[row["tool"]] = tools.get(row["tool"], 0) + row["n"]
    return categories, tools


async def list_artifacts(db: Database, scan_id: str, category: str | None = None, tool: str | None = None,
                         scope: str | None = None, search: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM environment_artifacts WHERE scan_id = ?", [scan_id]
    for column, value in (("category", category), ("tool", tool), ("scope", scope)):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " AND (name LIKE ? ESCAPE '\\' OR rel_path LIKE ? ESCAPE '\\' OR preview LIKE ? ESCAPE '\\')"
        params += [pattern, pattern, pattern]
    rows = await db.fetchall(sql + " ORDER BY category, name, scope", params)
    return [row_to_dict(r) for r in rows]


async def get_artifact(db: Database, artifact_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM environment_artifacts WHERE id = ?", (artifact_id,))
    return row_to_dict(row) if row else None


# ---- checkpoints and sync operations ----------------------------------------------------------

async def insert_checkpoint(db: Database, fields: dict, ops: list[dict] = ()) -> dict:
    """A checkpoint (and, for a sync, its operations) in one transaction."""
    checkpoint_id = fields.get("id") or new_id()

    def write(conn):
        conn.execute(
            "INSERT INTO environment_checkpoints (id, project_id, label, checkpoint_type, project_dir, git_tag, "
            "git_commit_sha, git_note, backup_path, files_count, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (checkpoint_id, fields.get("project_id"), fields["label"], fields["checkpoint_type"],
             fields.get("project_dir"), fields.get("git_tag"), fields.get("git_commit_sha"), fields.get("git_note"),
             fields.get("backup_path"), fields.get("files_count", 0), "active", now_iso()))
        _insert_ops(conn, checkpoint_id, ops)

    await db.write(write)
    return await get_checkpoint(db, checkpoint_id)


def _insert_ops(conn, checkpoint_id: str, ops) -> None:
    now = now_iso()
    conn.executemany(
        "INSERT INTO environment_sync_ops (id, checkpoint_id, artifact_id, operation, target_tool, target_path, "
        "diff_preview, status, error, applied_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(new_id(), checkpoint_id, op.get("artifact_id"), op["operation"], op["target_tool"], op["target_path"],
          op.get("diff_preview"), op["status"], op.get("error"), now if op["status"] == "applied" else None, now)
         for op in ops])


async def add_sync_ops(db: Database, checkpoint_id: str, ops: list[dict]) -> None:
    await db.write(lambda conn: _insert_ops(conn, checkpoint_id, ops))


async def get_checkpoint(db: Database, checkpoint_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM environment_checkpoints WHERE id = ?", (checkpoint_id,))
    return row_to_dict(row) if row else None


async def list_checkpoints(db: Database, project_id: str | None = None, checkpoint_type: str | None = None,
                           limit: int = 200) -> list[dict]:
    sql, params = "SELECT * FROM environment_checkpoints WHERE 1=1", []
    if project_id:
        sql += " AND project_id = ?"
        params.append(project_id)
    if checkpoint_type:
        sql += " AND checkpoint_type = ?"
        params.append(checkpoint_type)
    rows = await db.fetchall(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, limit))
    return [row_to_dict(r) for r in rows]


async def sync_ops(db: Database, checkpoint_ids: list[str]) -> dict[str, list[dict]]:
    """Each checkpoint's operations, oldest first."""
    out: dict[str, list[dict]] = {i: [] for i in checkpoint_ids}
    if checkpoint_ids:
        marks = ", ".join("?" for _ in checkpoint_ids)
        rows = await db.fetchall(f"SELECT * FROM environment_sync_ops WHERE checkpoint_id IN ({marks}) "
                                 "ORDER BY created_at, rowid", checkpoint_ids)
        for row in rows:
            out[row["checkpoint_id"]].append(row_to_dict(row))
    return out


async def mark_rolled_back(db: Database, checkpoint_id: str) -> bool:
    """active -> rolled_back, with its applied operations; False when it was not active."""

    def write(conn):
        changed = conn.execute("UPDATE environment_checkpoints SET status = 'rolled_back' "
                               "WHERE id = ? AND status = 'active'", (checkpoint_id,)).rowcount
        if changed:
            conn.execute("UPDATE environment_sync_ops SET status = 'rolled_back' "
                         "WHERE checkpoint_id = ? AND status = 'applied'", (checkpoint_id,))
        return changed > 0

    return await db.write(write)


# ---- templates --------------------------------------------------------------------------------

async def insert_template(db: Database, name: str, description: str | None, manifest: dict, count: int) -> dict:
    template_id, now = new_id(), now_iso()
    await db.execute(
        "INSERT INTO environment_templates (id, name, description, manifest, scope, artifact_count, created_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?)", (template_id, name, description, dumps(manifest), "user", count, now, now))
    return await get_template(db, template_id)


async def list_templates(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM environment_templates ORDER BY created_at DESC, rowid DESC")
    return [row_to_dict(r) for r in rows]


async def get_template(db: Database, template_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM environment_templates WHERE id = ?", (template_id,))
    return row_to_dict(row) if row else None


async def delete_template(db: Database, template_id: str) -> bool:
    return await db.execute("DELETE FROM environment_templates WHERE id = ?", (template_id,)) > 0

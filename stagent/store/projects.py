"""Projects, their default documents, and deletion of everything under a project."""

from __future__ import annotations

import os

from ..db import Database
from ..db.rows import new_id, now_iso, row_to_dict
from ..errors import Invalid, NotFound
from . import document_context

STATUSES = ("active", "paused", "completed")
_FIELDS = ("name", "description", "working_directory", "status")


async def list_projects(db: Database) -> list[dict]:
    rows = await db.fetchall(
        "SELECT p.*, (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id) AS task_count "
        "FROM projects p ORDER BY p.created_at, p.rowid"
    )
    return [row_to_dict(r) for r in rows]


async def get_project(db: Database, project_id: str) -> dict:
    row = await db.fetchone("SELECT * FROM projects WHERE id = ?", (project_id,))
    if row is None:
        raise NotFound()
    return row_to_dict(row)


WORKING_DIRECTORY_HELP = ("workingDirectory must be the absolute path of an existing folder "
                          "(e.g. /home/me/project), or null for none")


def check_working_directory(value: str | None) -> str | None:
    """The folder a project's tasks work in: absolute (`~` is expanded) and existing. A relative
    path would be resolved against the daemon's own directory. Empty means none."""
    if value is None or value == "":
        return None
    path, problem = value, None
    if "\0" in value:
        problem = "it contains a NUL character"
    elif not os.path.isabs(path := os.path.expanduser(value)):
        problem = f"'{value}' is a relative path"
    elif not os.path.isdir(path):
        problem = f"'{value}' is not an existing folder"
    if problem:
        message = f"{WORKING_DIRECTORY_HELP}: {problem}"
        raise Invalid(message, field_errors={"workingDirectory": [message]}, form_errors=[])
    return path


async def create_project(db: Database, fields: dict) -> dict:
    project_id, now = new_id(), now_iso()
    values = {k: fields.get(k) for k in _FIELDS}
    values["working_directory"] = check_working_directory(values["working_directory"])
    values["status"] = values["status"] or "active"

    def insert(conn):
        conn.execute(
            "INSERT INTO projects (id, name, description, working_directory, status, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (project_id, values["name"], values["description"], values["working_directory"],
             values["status"], now, now),
        )
        if fields.get("document_ids"):
            _replace_documents(conn, project_id, fields["document_ids"])
        return conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()

    return row_to_dict(await db.write(insert))


def _replace_documents(conn, project_id: str, document_ids: list[str], *, flatten: bool = True) -> int:
    """Replace the project's default documents; unknown ids are a 400 that changes nothing."""
    document_context.require_in(conn, document_ids, flatten=flatten)
    conn.execute("DELETE FROM project_document_defaults WHERE project_id = ?", (project_id,))
    now = now_iso()
    wanted = list(dict.fromkeys(document_ids))
    conn.executemany(
        "INSERT INTO project_document_defaults (id, project_id, document_id, created_at) VALUES (?,?,?,?)",
        [(new_id(), project_id, doc_id, now) for doc_id in wanted])
    return len(wanted)


async def update_project(db: Database, project_id: str, fields: dict) -> dict:
    document_ids = fields.pop("document_ids", None)
    changes = {k: v for k, v in fields.items() if k in _FIELDS}
    if "working_directory" in changes:
        changes["working_directory"] = check_working_directory(changes["working_directory"])

    def update(conn):
        if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
            raise NotFound()
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE projects SET {sets}, updated_at = ? WHERE id = ?",
                         (*changes.values(), now_iso(), project_id))
        if document_ids is not None:
            _replace_documents(conn, project_id, document_ids)
        return conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()

    return row_to_dict(await db.write(update))


async def delete_project(db: Database, project_id: str) -> None:
    """Tasks, logs, usage, notifications and documents go with it (ON DELETE CASCADE)."""

    def delete(conn):
        if conn.execute("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount == 0:
            raise NotFound()

    await db.write(delete)


async def list_project_documents(db: Database, project_id: str) -> list[dict]:
    rows = await db.fetchall(
        "SELECT d.id, d.original_name, d.filename, d.mime_type, d.size, d.direction, d.status, d.category "
        "FROM project_document_defaults pd JOIN documents d ON d.id = pd.document_id "
        "WHERE pd.project_id = ? ORDER BY pd.created_at",
        (project_id,),
    )
    return [row_to_dict(r) for r in rows]


async def set_project_documents(db: Database, project_id: str, document_ids: list[str]) -> int:
    def replace(conn):
        if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
            raise NotFound("Project not found")
        return _replace_documents(conn, project_id, document_ids, flatten=False)

    return await db.write(replace)


async def project_exists(db: Database, project_id: str) -> bool:
    return bool(await db.scalar("SELECT 1 FROM projects WHERE id = ?", (project_id,)))


async def project_name(db: Database, project_id: str) -> str | None:
    return await db.scalar("SELECT name FROM projects WHERE id = ?", (project_id,))


async def working_directory(db: Database, project_id: str) -> str | None:
    return await db.scalar("SELECT working_directory FROM projects WHERE id = ?", (project_id,))

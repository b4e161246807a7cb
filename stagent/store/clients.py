"""Lars clients: the user's accounts, one list per workspace (a project id or `default`).

Every query is scoped by workspace; a client of another workspace is "not found".
A domain is unique within a workspace (case-insensitive); names need not be.
"""

from __future__ import annotations

import sqlite3

from ..db import Database
from ..db.rows import new_id, now_iso, row_to_dict
from ..errors import Conflict, NotFound

STATUSES = ("active", "at_risk", "churned", "onboarding")
FIELDS = ("name", "domain", "health_score", "status", "owner", "notes", "last_contact_at")
LIST_LIMIT = 500
DEFAULT_AT_RISK_THRESHOLD = 50


def client_out(row) -> dict:
    client = row_to_dict(row)
    client["workspaceId"] = client.pop("workspace")
    return client


def not_found(client_id: str | None = None) -> NotFound:
    return NotFound("Client not found" + (f": {client_id}" if client_id else ""), code="CLIENT_NOT_FOUND")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _select(conn: sqlite3.Connection, workspace: str, client_id: str):
    return conn.execute("SELECT * FROM clients WHERE id = ? AND workspace = ?", (client_id, workspace)).fetchone()


def _domain_taken(conn: sqlite3.Connection, workspace: str, domain: str | None, except_id: str | None = None):
    if domain is None:
        return None
    return conn.execute("SELECT id FROM clients WHERE workspace = ? AND domain = ? COLLATE NOCASE AND id IS NOT ?",
                        (workspace, domain, except_id)).fetchone()


def _duplicate(domain: str, existing_id: str) -> Conflict:
    return Conflict(f"A client with domain '{domain}' already exists in this workspace ({existing_id})",
                    code="CLIENT_EXISTS")


def insert_in(conn: sqlite3.Connection, workspace: str, fields: dict) -> dict:
    taken = _domain_taken(conn, workspace, fields.get("domain"))
    if taken is not None:
        raise _duplicate(fields["domain"], taken["id"])
    now = now_iso()
    values = {"id": new_id(), "workspace": workspace, **{k: fields.get(k) for k in FIELDS},
              "created_at": now, "updated_at": now}
    values["status"] = values["status"] or "active"
    conn.execute(f"INSERT INTO clients ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                 tuple(values.values()))
    return client_out(_select(conn, workspace, values["id"]))


async def create(db: Database, workspace: str, fields: dict) -> dict:
    return await db.write(lambda conn: insert_in(conn, workspace, fields))


async def get(db: Database, workspace: str, client_id: str) -> dict:
    row = await db.read(lambda conn: _select(conn, workspace, client_id))
    if row is None:
        raise not_found()
    return client_out(row)


async def find(db: Database, workspace: str, client_id: str) -> dict | None:
    row = await db.read(lambda conn: _select(conn, workspace, client_id))
    return None if row is None else client_out(row)


async def list_clients(db: Database, workspace: str, *, query: str | None = None, status: str | None = None,
                       limit: int = LIST_LIMIT, offset: int = 0) -> list[dict]:
    """By name; `query` matches name, domain or owner (substring, case-insensitive)."""
    sql, params = "SELECT * FROM clients WHERE workspace = ?", [workspace]
    if query:
        sql += " AND (name LIKE ? ESCAPE '\\' OR domain LIKE ? ESCAPE '\\' OR owner LIKE ? ESCAPE '\\')"
        params += [_like(query)] * 3
    if status:
        sql += " AND status = ?"
        params.append(status)
    sql += " ORDER BY name COLLATE NOCASE, created_at LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [client_out(r) for r in await db.fetchall(sql, params)]


async def at_risk(db: Database, workspace: str, threshold: int = DEFAULT_AT_RISK_THRESHOLD,
                  limit: int = 50) -> list[dict]:
    """Marked at_risk, or a health score below `threshold` (churned ones are gone, not at risk);
    lowest score first."""
    rows = await db.fetchall(
        "SELECT * FROM clients WHERE workspace = ? AND (status = 'at_risk' OR "
        "(status != 'churned' AND health_score < ?)) "
        "ORDER BY health_score IS NULL, health_score, name COLLATE NOCASE LIMIT ?", (workspace, threshold, limit))
    return [client_out(r) for r in rows]


async def names(db: Database, workspace: str, limit: int = 5000) -> list[dict]:
    """{id, name, domain} of the workspace's clients (to find the ones a reply names)."""
    rows = await db.fetchall("SELECT id, name, domain FROM clients WHERE workspace = ? ORDER BY created_at LIMIT ?",
                             (workspace, limit))
    return [dict(r) for r in rows]


async def update(db: Database, workspace: str, client_id: str, fields: dict) -> dict:
    changes = {k: v for k, v in fields.items() if k in FIELDS}

    def write(conn):
        if _select(conn, workspace, client_id) is None:
            raise not_found()
        if "domain" in changes:
            taken = _domain_taken(conn, workspace, changes["domain"], except_id=client_id)
            if taken is not None:
                raise _duplicate(changes["domain"], taken["id"])
        if changes:
            sets = "".join(f"{k} = ?, " for k in changes)
            conn.execute(f"UPDATE clients SET {sets}updated_at = ? WHERE id = ?",
                         (*changes.values(), now_iso(), client_id))
        return client_out(_select(conn, workspace, client_id))

    return await db.write(write)


async def delete(db: Database, workspace: str, client_id: str) -> None:
    def write(conn):
        if conn.execute("DELETE FROM clients WHERE id = ? AND workspace = ?", (client_id, workspace)).rowcount == 0:
            raise not_found()

    await db.write(write)


async def import_rows(db: Database, workspace: str, rows: list[tuple[int, dict]]) -> tuple[list[dict], list[dict]]:
    """Insert validated rows (line number, fields) in one transaction. A row whose domain, or
    whose name when it has no domain, matches an existing client (or an earlier row) is skipped.
    Returns (imported clients, skipped [{row, name, reason}])."""

    def write(conn):
        imported, skipped = [], []
        for line, fields in rows:
            domain = fields.get("domain")
            if domain is not None:
                existing = _domain_taken(conn, workspace, domain)
                reason = f"duplicate domain '{domain}' (client {existing['id']})" if existing else None
            else:
                existing = conn.execute("SELECT id FROM clients WHERE workspace = ? AND name = ? COLLATE NOCASE",
                                        (workspace, fields["name"])).fetchone()
                reason = f"duplicate name '{fields['name']}' (client {existing['id']})" if existing else None
            if reason:
                skipped.append({"row": line, "name": fields.get("name"), "reason": reason})
                continue
            imported.append(insert_in(conn, workspace, fields))
        return imported, skipped

    return await db.write(write)

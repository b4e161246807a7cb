"""documents: uploaded, ingested and agent-written files, their extracted text and search.

Every document SQL lives here. Status runs `uploaded → processing → ready | error`
(engine/documents/processor.py drives it). Search is the FTS5 `documents_fts` index (trigram
tokenizer, m016) over `original_name` and `extracted_text`, kept in step by triggers; a query
shorter than three characters (below a trigram) falls back to a LIKE scan.

Functions other code calls (engine/agent/document_tools.py, runs, bindings):
- `search_documents(db, query, project_id=None, limit=20)`
- `get_document_text(db, document_id, start=0, end=None)`
- `get_many(db, ids)`, `missing_ids(db, ids)`, `get(db, id)`
"""

from __future__ import annotations

import json
import sqlite3

from ..db import Database
from ..db.rows import new_id, now_iso, row_to_dict

STATUSES = ("uploaded", "processing", "ready", "error")
DIRECTIONS = ("input", "output")
_FIELDS = ("id", "taskId", "projectId", "filename", "originalName", "mimeType", "size", "storagePath",
           "version", "direction", "category", "status", "extractedText", "processedPath", "processingError",
           "source", "conversationId", "messageId", "createdAt", "updatedAt")
_JOINED = ("taskTitle", "projectName", "workflowId", "workflowName", "workflowRunNumber")
_SELECT_JOINED = (
    "SELECT d.*, t.title AS task_title, p.name AS project_name, t.workflow_id AS workflow_id, "
    "w.name AS workflow_name, t.workflow_run_number AS workflow_run_number FROM {source} "
    "LEFT JOIN tasks t ON t.id = d.task_id LEFT JOIN projects p ON p.id = d.project_id "
    "LEFT JOIN workflows w ON w.id = t.workflow_id")
SNIPPET_CHARS = 200
MIN_FTS_QUERY = 3  # a trigram index cannot look up fewer characters


def to_api(row, joined: bool = False) -> dict:
    """A documents row as the catalog's Document (plus the list's joins when `joined`)."""
    out = row_to_dict(row)
    return {k: out.get(k) for k in (_FIELDS + _JOINED if joined else _FIELDS)}


# ---- create ----------------------------------------------------------------------------------

def next_version_in(conn: sqlite3.Connection, project_id: str | None, original_name: str) -> int:
    """An output document's version: one past the highest of the same name in the same project
    (1 without a project: versions are kept per project)."""
    if project_id is None:
        return 1
    top = conn.execute("SELECT MAX(version) FROM documents WHERE project_id = ? AND original_name = ? "
                       "AND direction = 'output'", (project_id, original_name)).fetchone()[0]
    return (top or 0) + 1


def insert_in(conn: sqlite3.Connection, fields: dict) -> dict:
    """Insert a document row; `fields` are snake_case columns (id, filename, original_name,
    mime_type, size, storage_path required). Output documents get their next version."""
    now = now_iso()
    row = {"id": fields.get("id") or new_id(), "task_id": None, "project_id": None, "version": 1,
           "direction": "input", "category": None, "status": "uploaded", "extracted_text": None,
           "processed_path": None, "processing_error": None, "source": "upload", "conversation_id": None,
           "message_id": None, **fields, "created_at": now, "updated_at": now}
    if row["direction"] == "output" and "version" not in fields:
        row["version"] = next_version_in(conn, row["project_id"], row["original_name"])
    columns = ", ".join(row)
    conn.execute(f"INSERT INTO documents ({columns}) VALUES ({','.join('?' * len(row))})", tuple(row.values()))
    return to_api(conn.execute("SELECT * FROM documents WHERE id = ?", (row["id"],)).fetchone())


async def create(db: Database, fields: dict) -> dict:
    """Insert a document (see insert_in); returns it as the API shows it."""
    return await db.write(lambda conn: insert_in(conn, fields))


# ---- read ------------------------------------------------------------------------------------

async def get(db: Database, document_id: str) -> dict | None:
    """The plain document row (camelCase), or None."""
    row = await db.fetchone("SELECT * FROM documents WHERE id = ?", (document_id,))
    return None if row is None else to_api(row)


async def get_joined(db: Database, document_id: str) -> dict | None:
    """The document with taskTitle, projectName, workflowId, workflowName, workflowRunNumber."""
    row = await db.fetchone(_SELECT_JOINED.format(source="documents d") + " WHERE d.id = ?", (document_id,))
    return None if row is None else to_api(row, joined=True)


async def get_many(db: Database, ids: list[str]) -> list[dict]:
    """The documents with these ids (plain rows, with extractedText), in the order given;
    unknown ids are skipped."""
    if not ids:
        return []
    rows = await db.read(lambda c: c.execute(
        "SELECT * FROM documents WHERE id IN (SELECT value FROM json_each(?))", (_json_list(ids),)).fetchall())
    found = {r["id"]: to_api(r) for r in rows}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


async def missing_ids(db: Database, ids: list[str]) -> list[str]:
    """The ids of `ids` that name no document (for a 400 on unknown documentIds)."""
    if not ids:
        return []
    rows = await db.read(lambda c: c.execute(
        "SELECT id FROM documents WHERE id IN (SELECT value FROM json_each(?))", (_json_list(ids),)).fetchall())
    found = {r[0] for r in rows}
    return [i for i in dict.fromkeys(ids) if i not in found]


def _json_list(ids: list[str]) -> str:
    return json.dumps([str(i) for i in ids])


def fts_phrase(query: str) -> str:
    """A user's text as one FTS5 phrase: with trigrams, a substring match like LIKE '%q%'."""
    return '"' + query.replace('"', '""') + '"'


def _like(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_documents(db: Database, *, task_id: str | None = None, project_id: str | None = None,
                         status: str | None = None, direction: str | None = None,
                         search: str | None = None) -> list[dict]:
    """The list route: filters, the joins; with `search`, best match first (bm25, the name
    weighing more than the text), else newest first."""
    where, params = [], []
    for column, value in (("task_id", task_id), ("project_id", project_id), ("status", status),
                          ("direction", direction)):
        if value is not None:
            where.append(f"d.{column} = ?")
            params.append(value)
    search = (search or "").strip()
    if search and len(search) >= MIN_FTS_QUERY:
        source = "documents_fts f JOIN documents d ON d.rowid = f.rowid"
        where.insert(0, "documents_fts MATCH ?")
        params.insert(0, fts_phrase(search))
        order = "bm25(documents_fts, 10.0, 1.0), d.created_at DESC"
    else:
        source = "documents d"
        order = "d.created_at DESC, d.rowid DESC"
        if search:
            where.append("(d.original_name LIKE ? ESCAPE '\\' OR d.extracted_text LIKE ? ESCAPE '\\')")
            params += [_like(search), _like(search)]
    sql = _SELECT_JOINED.format(source=source)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + order
    rows = await db.read(lambda c: c.execute(sql, params).fetchall(), site=("documents.list", bool(search)))
    return [to_api(r, joined=True) for r in rows]


async def search_documents(db: Database, query: str, project_id: str | None = None,
                           limit: int = 20) -> list[dict]:
    """Full-text search over names and extracted text, best match first.

    `query` is matched as a substring (case-insensitive; a trigram index, so three characters or
    more use the index, shorter ones scan). `project_id` narrows to one project's documents.
    Returns at most `limit` dicts: {id, originalName, mimeType, status, direction, projectId,
    taskId, size, version, createdAt, snippet}, where `snippet` is up to 200 characters of the
    extracted text around the first match (its start when only the name matched)."""
    query = (query or "").strip()
    if not query:
        return []
    limit = max(1, min(int(limit), 200))
    where, params = [], []
    if len(query) >= MIN_FTS_QUERY:
        source, order = "documents_fts f JOIN documents d ON d.rowid = f.rowid", "bm25(documents_fts, 10.0, 1.0)"
        where.append("documents_fts MATCH ?")
        params.append(fts_phrase(query))
    else:
        source, order = "documents d", "d.created_at DESC"
        where.append("(d.original_name LIKE ? ESCAPE '\\' OR d.extracted_text LIKE ? ESCAPE '\\')")
        params += [_like(query), _like(query)]
    if project_id is not None:
        where.append("d.project_id = ?")
        params.append(project_id)
    half = SNIPPET_CHARS // 2
    sql = (f"SELECT d.id, d.original_name, d.mime_type, d.status, d.direction, d.project_id, d.task_id, d.size, "
           f"d.version, d.created_at, substr(d.extracted_text, max(1, instr(lower(d.extracted_text), lower(?)) - {half}), "
           f"{SNIPPET_CHARS}) AS snippet FROM {source} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?")
    rows = await db.read(lambda c: c.execute(sql, [query, *params, limit]).fetchall(),
                         site=("documents.search", len(query) >= MIN_FTS_QUERY))
    return [row_to_dict(r) for r in rows]


async def get_document_text(db: Database, document_id: str, start: int = 0,
                            end: int | None = None) -> dict | None:
    """A character range [start, end) of a document's extracted text, without loading the rest.

    Returns None for an unknown id, else {id, originalName, mimeType, status, processingError,
    totalChars, start, end, text}: `end` is clamped to totalChars (None: to the end), `text` is
    "" when the document has no extracted text (yet: see `status`)."""
    start = max(0, int(start))
    columns = "id, original_name, mime_type, status, processing_error, length(extracted_text) AS total_chars"
    if end is None:  # substr's two-argument form: to the end (a negative length would count backwards)
        row = await db.fetchone(f"SELECT {columns}, substr(extracted_text, ? + 1) AS text FROM documents WHERE id = ?",
                                (start, document_id))
    else:
        row = await db.fetchone(f"SELECT {columns}, substr(extracted_text, ? + 1, ?) AS text FROM documents "
                                "WHERE id = ?", (start, max(0, min(int(end), 2**62) - start), document_id))
    if row is None:
        return None
    out = row_to_dict(row)
    total = out["totalChars"] or 0
    out["text"] = out["text"] or ""
    out["start"], out["end"] = min(start, total), min(total, start + len(out["text"]))
    out["totalChars"] = total
    return out


async def versions(db: Database, document: dict) -> list[dict]:
    """Output documents with the same originalName in the same project, newest version first."""
    if document["projectId"] is None:
        return []
    rows = await db.fetchall(
        "SELECT d.id, d.version, d.size, d.status, d.created_at, t.workflow_run_number FROM documents d "
        "LEFT JOIN tasks t ON t.id = d.task_id WHERE d.project_id = ? AND d.original_name = ? "
        "AND d.direction = 'output' ORDER BY d.version DESC, d.created_at DESC",
        (document["projectId"], document["originalName"]))
    return [row_to_dict(r) for r in rows]


async def links(db: Database, document_id: str) -> dict:
    """What a document is bound to: {taskId, taskTitle, workflows, projects, schedules} (counts)."""
    row = await db.fetchone(
        "SELECT d.task_id, t.title AS task_title, "
        "(SELECT COUNT(*) FROM workflow_documents WHERE document_id = d.id) AS workflows, "
        "(SELECT COUNT(*) FROM project_document_defaults WHERE document_id = d.id) AS projects, "
        "(SELECT COUNT(*) FROM schedule_documents WHERE document_id = d.id) AS schedules "
        "FROM documents d LEFT JOIN tasks t ON t.id = d.task_id WHERE d.id = ?", (document_id,))
    return {} if row is None else row_to_dict(row)


async def unfinished(db: Database) -> list[str]:
    """Documents whose extraction never finished (a stop or crash cut it off)."""
    rows = await db.fetchall("SELECT id FROM documents WHERE status IN ('uploaded', 'processing') "
                             "ORDER BY created_at")
    return [r[0] for r in rows]


async def stored_filenames(db: Database) -> set[str]:
    """Every file name a document row points at (its file and its thumbnail), for orphan cleanup."""
    rows = await db.fetchall("SELECT storage_path, processed_path FROM documents")
    names = set()
    for storage_path, processed_path in rows:
        for path in (storage_path, processed_path):
            if path:
                names.add(path.replace("\\", "/").rsplit("/", 1)[-1])
    return names


async def task_link(db: Database, task_id: str) -> dict | None:
    """{id, project_id} of a task a document is linked to, or None when there is no such task."""
    row = await db.fetchone("SELECT id, project_id FROM tasks WHERE id = ?", (task_id,))
    return None if row is None else {"id": row["id"], "project_id": row["project_id"]}


async def exists(db: Database, table: str, row_id: str) -> bool:
    """Whether a task or project with this id exists (PATCH re-linking checks it)."""
    assert table in ("tasks", "projects")
    return bool(await db.scalar(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)))


# ---- change ----------------------------------------------------------------------------------

_UPDATABLE = ("task_id", "project_id", "category", "status", "extracted_text", "processed_path",
              "processing_error", "mime_type", "size")


async def update(db: Database, document_id: str, changes: dict) -> dict | None:
    """Set some columns (snake_case keys of _UPDATABLE); returns the plain row, None if unknown."""
    changes = {k: v for k, v in changes.items() if k in _UPDATABLE}

    def run(conn):
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE documents SET {sets}, updated_at = ? WHERE id = ?",
                         (*changes.values(), now_iso(), document_id))
        row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return None if row is None else to_api(row)

    return await db.write(run)


async def start_processing(db: Database, document_id: str) -> bool:
    """Mark a document `processing`, its earlier extraction cleared; False if it is gone."""
    return bool(await db.execute(
        "UPDATE documents SET status = 'processing', extracted_text = NULL, processing_error = NULL, "
        "updated_at = ? WHERE id = ?", (now_iso(), document_id)))


async def finish_processing(db: Database, document_id: str, *, text: str | None, processed_path: str | None,
                            error: str | None, note: str | None = None) -> bool:
    """Store an extraction's outcome: `ready` with its text (and a `note` in processingError, e.g.
    no extractor for the type), or `error` with the reason. Only a document still `processing`
    changes: a reprocess or delete in between wins."""
    return bool(await db.execute(
        "UPDATE documents SET status = ?, extracted_text = ?, processed_path = COALESCE(?, processed_path), "
        "processing_error = ?, updated_at = ? WHERE id = ? AND status = 'processing'",
        ("error" if error else "ready", text, processed_path, error or note, now_iso(), document_id)))


async def delete(db: Database, document_id: str) -> dict | None:
    """Delete the row (its bindings go with it); returns what it was, None if unknown."""
    def run(conn):
        row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is not None:
            conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return None if row is None else to_api(row)

    return await db.write(run)

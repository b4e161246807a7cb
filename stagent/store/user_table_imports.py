"""What an import reads and records: the document (a `documents` row: its file on disk, MIME
type and name) and one user_table_imports row per import."""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict


async def get_document(db: Database, document_id: str) -> dict | None:
    """{id, storagePath, mimeType, originalName, size} of a document, or None."""
    row = await db.fetchone("SELECT id, storage_path, mime_type, original_name, size FROM documents WHERE id = ?",
                            (document_id,))
    return row_to_dict(row) if row else None


async def record_import(db: Database, table_id: str, document_id: str, *, row_count: int, error_count: int,
                        errors: list[dict], status: str) -> str:
    import_id = new_id()
    await db.execute(
        "INSERT INTO user_table_imports (id, table_id, document_id, row_count, error_count, errors, status, "
        "created_at) VALUES (?,?,?,?,?,?,?,?)",
        (import_id, table_id, document_id, row_count, error_count, dumps(errors), status, now_iso()))
    return import_id


async def mark_imported(db: Database, table_id: str) -> None:
    """A table that was empty and got its columns from a file counts as imported."""
    await db.execute("UPDATE user_tables SET source = 'imported' WHERE id = ? AND source = 'manual'", (table_id,))

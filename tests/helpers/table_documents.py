"""Documents for table imports, made the way an upload leaves them: a file under the data dir's
uploads folder and a `documents` row pointing at it (the upload routes belong to another module)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

MIME = {"csv": "text/csv", "tsv": "text/tab-separated-values",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt": "text/plain", "pdf": "application/pdf"}


def run(daemon, coro, timeout: float = 30):
    """A coroutine on the daemon's own loop (its database belongs there)."""
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(timeout)


def add_document(daemon, content: bytes, name: str, mime: str | None = None) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    doc_id = str(uuid.uuid4())
    folder = daemon.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc_id}.{ext}"
    path.write_bytes(content)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    run(daemon, daemon.app.state.db.execute(
        "INSERT INTO documents (id, filename, original_name, mime_type, size, storage_path, direction, status, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (doc_id, path.name, name, mime or MIME.get(ext, "application/octet-stream"), len(content), str(path),
         "input", "ready", now, now)))
    return doc_id


def xlsx_bytes(rows: list[list]) -> bytes:
    import io

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

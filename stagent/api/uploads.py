"""/api/uploads: 4 endpoints. A multipart upload is parsed as it arrives (python-multipart's
streaming parser over `request.stream()`) and its file part written straight to disk: the body
is never held in memory. Past 50 MB, or when the body is cut off, nothing is left behind."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route

from ..db.rows import new_id
from ..engine.documents.ingest import (
    TOO_LARGE,
    UploadFile,
    clean_original_name,
    mime_for,
    remove_files,
    stored_name,
    uploads_dir,
)
from ..errors import Invalid, NotFound
from ..security import UPLOAD_BODY_LIMIT
from ..store import documents as store
from ._download import file_download
from ._http import Out, endpoint, ok

MAX_FIELD_BYTES = 4096
ORPHAN_AGE_S = 24 * 3600
DOWNLOAD_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".json": "application/json",
                  ".js": "text/javascript", ".ts": "text/plain", ".py": "text/plain", ".html": "text/html",
                  ".css": "text/css", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".gif": "image/gif", ".svg": "image/svg+xml", ".pdf": "application/pdf"}
_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


class UploadOut(Out):
    id: str
    filename: str
    originalName: str
    size: int
    type: str
    taskId: str | None


class CleanupOut(Out):
    deleted: int
    errors: int
    skipped: int
    deletedFiles: list[str]


class _Receiver:
    """The parser's callbacks: the `file` part goes to an UploadFile, small fields are kept."""

    def __init__(self, target_for):
        self.target_for = target_for
        self.upload: UploadFile | None = None
        self.original_name = ""
        self.content_type = ""
        self.fields: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._sink = None  # where the current part's bytes go
        self._field: bytearray | None = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_val, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_part_end": self._part_end}

    def _part_begin(self):
        self._headers, self._sink, self._field = {}, None, None

    def _header_field(self, data, start, end):
        self._header_name += data[start:end]

    def _header_val(self, data, start, end):
        self._header_value += data[start:end]

    def _header_end(self):
        self._headers[self._header_name.decode("latin-1").lower()] = self._header_value.decode("utf-8", "replace")
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self):
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == "file" and filename and self.upload is None:  # a form with no file chosen sends filename=""
            self.original_name = clean_original_name(filename.decode("utf-8", "replace"))
            self.content_type = self._headers.get("content-type", "")
            self.upload = UploadFile(self.target_for(self.original_name))
            self._sink = self.upload.feed
        elif filename is None and name and name not in self.fields:
            self._field = bytearray()
            self._sink = self._field_data
            self._field_name = name

    def _field_data(self, data: bytes):
        if len(self._field) + len(data) > MAX_FIELD_BYTES:
            raise Invalid(f"Form field {self._field_name} is too long")
        self._field += data

    def _data(self, data, start, end):
        if self._sink is not None:
            self._sink(data[start:end])

    def _part_end(self):
        if self._field is not None:
            self.fields[self._field_name] = self._field.decode("utf-8", "replace").strip()
        self._sink, self._field = None, None


def _boundary(request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Invalid("No file provided")
    return boundary


async def _receive(request, receiver: _Receiver, boundary: bytes) -> None:
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
                if receiver.upload is not None and receiver.upload.should_flush:
                    await receiver.upload.flush()
        parser.finalize()
    except MultipartParseError:
        raise Invalid("Malformed multipart body") from None


@endpoint(response=UploadOut, status=201, errors=(400,),
          summary="Upload a file (multipart field `file`, optional `taskId`, `projectId`); ≤ 50 MB")
async def upload(request):
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > UPLOAD_BODY_LIMIT:
        raise Invalid(TOO_LARGE)  # refused before a byte of the body is read
    boundary = _boundary(request)
    db, data_dir = request.app.state.db, request.app.state.config.data_dir
    document_id = new_id()
    receiver = _Receiver(lambda name: uploads_dir(data_dir) / stored_name(document_id, name))
    done = False
    try:
        await _receive(request, receiver, boundary)
        if receiver.upload is None:
            raise Invalid("No file provided")
        task_id = receiver.fields.get("taskId") or None
        project_id = receiver.fields.get("projectId") or None
        task = await _task(db, task_id) if task_id else None
        if project_id and not await store.exists(db, "projects", project_id):
            raise Invalid("Project not found")
        size = await receiver.upload.finish()
        target = receiver.upload.target
        document = await store.create(db, {
            "id": document_id, "filename": target.name, "original_name": receiver.original_name,
            "mime_type": mime_for(receiver.original_name, receiver.content_type), "size": size,
            "storage_path": str(target), "task_id": task_id,
            "project_id": project_id or (task or {}).get("project_id"), "direction": "input"})
        done = True
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it; the finally removed the partial file
    finally:
        if not done and receiver.upload is not None:
            await receiver.upload.abort()
    await request.app.state.documents.process(document_id)
    return ok({"id": document_id, "filename": document["filename"], "originalName": document["originalName"],
               "size": size, "type": document["mimeType"], "taskId": task_id}, 201)


async def _task(db, task_id: str) -> dict:
    row = await store.task_link(db, task_id)
    if row is None:
        raise Invalid("Task not found")
    return row


async def _stored_file(request, upload_id: str) -> tuple[Path, dict | None]:
    """The file of upload `id`: its document's file, else a file in the uploads folder whose
    name starts with `<id>.` (or is the id)."""
    if not _ID.fullmatch(upload_id):
        raise NotFound("File not found")
    folder = uploads_dir(request.app.state.config.data_dir)
    document = await store.get(request.app.state.db, upload_id)
    if document is not None:
        path = folder / document["filename"]
        if await asyncio.to_thread(path.is_file):
            return path, document

    def find():
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if (entry.name == upload_id or entry.name.startswith(upload_id + ".")) \
                            and not entry.name.endswith((".part", ".thumb.png")) and entry.is_file():
                        return Path(entry.path)
        except FileNotFoundError:
            return None
        return None
    path = await asyncio.to_thread(find)
    if path is None:
        raise NotFound("File not found")
    return path, document


@endpoint(errors=(404,), content_type="application/octet-stream")
async def download(request):
    """The stored file, always as an attachment."""
    path, document = await _stored_file(request, request.path_params["id"])
    name = document["originalName"] if document else path.name
    return file_download(path, DOWNLOAD_TYPES.get(path.suffix.lower(), "application/octet-stream"), name)


@endpoint(status=204, errors=(404,))
async def delete_upload(request):
    """Delete the stored file and its document row."""
    upload_id = request.path_params["id"]
    path, document = await _stored_file(request, upload_id)
    if document is not None:
        await store.delete(request.app.state.db, upload_id)
        await request.app.state.documents.forget(upload_id)
        await asyncio.to_thread(remove_files, str(path), document.get("processedPath"))
    else:
        await asyncio.to_thread(remove_files, str(path))
    return Response(status_code=204)


@endpoint(response=CleanupOut)
async def cleanup(request):
    """Remove files of the uploads folder that no document names and that are over 24 h old."""
    folder = uploads_dir(request.app.state.config.data_dir)
    known = await store.stored_filenames(request.app.state.db)

    def sweep():
        deleted, errors, skipped = [], 0, 0
        cutoff = time.time() - ORPHAN_AGE_S
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.name in known:
                continue
            try:
                if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    skipped += 1
                    continue
                os.unlink(entry.path)
                deleted.append(entry.name)
            except OSError:
                errors += 1
        return {"deleted": len(deleted), "errors": errors, "skipped": skipped, "deletedFiles": sorted(deleted)}

    return ok(await asyncio.to_thread(sweep))


routes = [
    Route("/api/uploads", upload, methods=["POST"]),
    Route("/api/uploads/cleanup", cleanup, methods=["POST"]),
    Route("/api/uploads/{id}", download, methods=["GET"]),
    Route("/api/uploads/{id}", delete_upload, methods=["DELETE"]),
]

"""/api/documents: 7 endpoints. A document's file lives in `<data dir>/uploads/`; its text is
extracted in the background (engine/documents/processor.py); search is the FTS5 index."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Route

from ..engine.documents.ingest import ingest_path, remove_files, uploads_dir
from ..errors import Conflict, Invalid, NotFound
from ..store import documents as store
from ._download import file_download
from ._http import Body, Out, endpoint, ok, read_body


class DocumentQuery(Body):
    task_id: str | None = None
    project_id: str | None = None
    status: Literal[("", *store.STATUSES)] | None = None  # empty: no filter
    direction: Literal[("", *store.DIRECTIONS)] | None = None
    search: str | None = None


class FileQuery(Body):
    inline: str | None = None  # "1": shown in the browser (images but SVG, PDF)
    thumb: str | None = None  # "1": the thumbnail when there is one


class DeleteQuery(Body):
    cascade_delete: str | None = None  # "true" confirms deleting a linked document


class IngestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    file_path: str = Field(min_length=1, validation_alias=AliasChoices("file_path", "filePath"))
    task_id: str | None = Field(default=None, validation_alias="taskId")
    project_id: str | None = Field(default=None, validation_alias="projectId")
    direction: Literal["input", "output"] = "output"
    metadata: dict[str, str] | None = None


class DocumentPatch(Body):
    task_id: str | None = None
    project_id: str | None = None
    category: str | None = Field(default=None, max_length=100)
    metadata: dict[str, str] | None = None
    reprocess: bool | None = None


class DocumentOut(Out):
    id: str
    taskId: str | None
    projectId: str | None
    filename: str
    originalName: str
    mimeType: str
    size: int
    storagePath: str
    version: int
    direction: str
    category: str | None
    status: str
    extractedText: str | None
    processedPath: str | None
    processingError: str | None
    source: str
    createdAt: str
    updatedAt: str


class IngestOut(Out):
    documentId: str
    status: str
    processingStatus: str
    originalName: str
    mimeType: str
    size: int


class VersionOut(Out):
    id: str
    version: int
    size: int
    status: str
    createdAt: str
    workflowRunNumber: int | None


def _invalid_body(issues: list[dict]) -> Invalid:
    return Invalid("Invalid request body", extra={"details": issues})


def _issues(exc: ValidationError) -> list[dict]:
    return [{"code": e["type"], "path": [str(p) for p in e["loc"]], "message": e["msg"]}
            for e in exc.errors(include_url=False)]


async def _validated(request, model: type[BaseModel]):
    data = await read_body(request, malformed="Invalid request body", not_object="Invalid request body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid_body(_issues(exc)) from None


async def _check_links(db, task_id: str | None, project_id: str | None) -> None:
    for field, table, value in (("taskId", "tasks", task_id), ("projectId", "projects", project_id)):
        if value is not None and not await store.exists(db, table, value):
            raise _invalid_body([{"code": "not_found", "path": [field],
                                  "message": f"{'Task' if table == 'tasks' else 'Project'} not found"}])


def _category_with(category: str | None, metadata: dict[str, str]) -> str:
    """Metadata merged into the category column as a JSON object (a plain category is kept
    under `category`)."""
    try:
        current = json.loads(category) if category else {}
    except ValueError:
        current = {"category": category}
    if not isinstance(current, dict):
        current = {"category": category}
    return json.dumps({**current, **metadata}, ensure_ascii=False)


async def _document(request) -> dict:
    document = await store.get(request.app.state.db, request.path_params["id"])
    if document is None:
        raise NotFound("Document not found")
    return document


@endpoint(query=DocumentQuery, response=list[DocumentOut], errors=(400,))
async def list_documents(request):
    """Documents with their task/project/workflow, best match first with `search`, else newest
    first (query taskId?, projectId?, status?, direction?, search?)."""
    q = request.query_params
    status, direction = q.get("status") or None, q.get("direction") or None
    if status is not None and status not in store.STATUSES:
        raise Invalid(f"Invalid status. Must be one of: {', '.join(store.STATUSES)}")
    if direction is not None and direction not in store.DIRECTIONS:
        raise Invalid(f"Invalid direction. Must be one of: {', '.join(store.DIRECTIONS)}")
    return ok(await store.list_documents(request.app.state.db, task_id=q.get("taskId") or None,
                                         project_id=q.get("projectId") or None, status=status,
                                         direction=direction, search=q.get("search")))


@endpoint(body=IngestBody, response=IngestOut, status=201, errors=(400, 403))
async def ingest(request):
    """Copy a local file (under $HOME or /tmp, outside credential folders) in as a document."""
    body = await _validated(request, IngestBody)
    db, state = request.app.state.db, request.app.state
    await _check_links(db, body.task_id, body.project_id)
    category = _category_with(None, body.metadata) if body.metadata else None
    document = await ingest_path(db, state.config.data_dir, body.file_path, task_id=body.task_id,
                                 project_id=body.project_id, direction=body.direction, category=category)
    await state.documents.process(document["id"])
    return ok({"documentId": document["id"], "status": "uploaded", "processingStatus": "queued",
               "originalName": document["originalName"], "mimeType": document["mimeType"],
               "size": document["size"]}, 201)


@endpoint(response=DocumentOut, errors=(404,))
async def get_document(request):
    """One document with its task/project/workflow."""
    document = await store.get_joined(request.app.state.db, request.path_params["id"])
    if document is None:
        raise NotFound("Document not found")
    return ok(document)


@endpoint(body=DocumentPatch, response=DocumentOut, errors=(400, 404))
async def update_document(request):
    """Re-link (taskId/projectId, null unlinks), categorise, merge metadata, or reprocess."""
    document = await _document(request)
    body = await _validated(request, DocumentPatch)
    given = body.given()
    db = request.app.state.db
    await _check_links(db, given.get("task_id"), given.get("project_id"))
    changes = {k: given[k] for k in ("task_id", "project_id", "category") if k in given}
    if given.get("task_id") and "project_id" not in given:  # a task's document joins the task's project
        task = await store.task_link(db, given["task_id"])
        if task["project_id"]:
            changes["project_id"] = task["project_id"]
    if body.metadata:
        changes["category"] = _category_with(changes.get("category", document["category"]), body.metadata)
    updated = await store.update(db, document["id"], changes)
    if body.reprocess:
        await request.app.state.documents.process(document["id"])
        updated = await store.get(db, document["id"])
    if updated is None:
        raise NotFound("Document not found")
    return ok(updated)


@endpoint(query=DeleteQuery, status=204, errors=(404, 409))
async def delete_document(request):
    """Delete the row and its file; a document bound to a task, workflow, project or schedule
    needs ?cascadeDelete=true."""
    document = await _document(request)
    db = request.app.state.db
    if request.query_params.get("cascadeDelete") != "true":
        links = await store.links(db, document["id"])
        if links.get("taskId"):
            raise Conflict(f"Document is linked to task \"{links['taskTitle']}\". "
                           "Add ?cascadeDelete=true to confirm.")
        bound = [f"{links[k]} {k if links[k] > 1 else k[:-1]}" for k in ("workflows", "projects", "schedules")
                 if links.get(k)]
        if bound:
            raise Conflict(f"Document is bound to {', '.join(bound)}. Add ?cascadeDelete=true to confirm.")
    deleted = await store.delete(db, document["id"])
    await request.app.state.documents.forget(document["id"])
    if deleted is not None:
        await asyncio.to_thread(remove_files, _own_file(request, deleted["filename"]),
                                deleted.get("processedPath"))
    return Response(status_code=204)


def _own_file(request, filename: str) -> str:
    """The document's file in the uploads folder (never a path outside it)."""
    return str(uploads_dir(request.app.state.config.data_dir) / Path(filename).name)


@endpoint(query=FileQuery, errors=(404,), content_type="application/octet-stream")
async def document_file(request):
    """The raw bytes; inline=1 shows images and PDFs in the browser, thumb=1 the thumbnail."""
    document = await _document(request)
    path = Path(_own_file(request, document["filename"]))
    mime = document["mimeType"]
    if request.query_params.get("thumb") == "1" and document["processedPath"]:
        thumb = Path(document["processedPath"])
        if await asyncio.to_thread(thumb.is_file):
            path, mime = thumb, "image/png"
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("File not found")
    viewable = mime == "application/pdf" or (mime.startswith("image/") and mime != "image/svg+xml")
    return file_download(path, mime, document["originalName"],
                         inline=request.query_params.get("inline") == "1" and viewable)


@endpoint(response=list[VersionOut], errors=(404,))
async def document_versions(request):
    """Every version of an output document (same originalName in the same project), newest first."""
    document = await _document(request)
    return ok(await store.versions(request.app.state.db, document))


routes = [
    Route("/api/documents", list_documents, methods=["GET"]),
    Route("/api/documents", ingest, methods=["POST"]),
    Route("/api/documents/{id}", get_document, methods=["GET"]),
    Route("/api/documents/{id}", update_document, methods=["PATCH"]),
    Route("/api/documents/{id}", delete_document, methods=["DELETE"]),
    Route("/api/documents/{id}/file", document_file, methods=["GET"]),
    Route("/api/documents/{id}/versions", document_versions, methods=["GET"]),
]

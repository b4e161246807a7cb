"""The document tool family, offered to task runs and to chat: `read_document` (a page or a
character range of a document's extracted text), `search_documents` (the run's project's
documents, by name and text) and `save_document` (keeps a result as an output document).

A run's project is its task's (a task run) or its conversation's (chat); a run without one
searches all documents, and saves documents without a project.

Invariants:
- save_document writes only under `<data dir>/uploads/` (a fresh `<uuid>.<ext>` file, never a
  name the model chose) and its row (status `ready`, its text already extracted) is committed
  only after the file is written; a failed insert removes the file again;
- an output document is the next version of its name within its project (store/documents.py);
- the tools read and write stagent's own store only, never the project's working directory.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path, PurePosixPath

from ...db import Database
from ...db.rows import new_id
from ...store import documents as store
from ..documents import ingest
from .files import int_arg
from .tools import CHAT_TOOLS, TASK_TOOLS, ToolError, text_arg, tool

DEFAULT_READ_CHARS = 20_000
MAX_READ_CHARS = 50_000
MAX_SEARCH_RESULTS = 25
MAX_SAVE_CHARS = 5_000_000
MAX_NAME_CHARS = 200
MAX_INDEX = 2**31 - 1  # an offset or page past any text (SQLite's substr takes 32-bit positions)
PAGE_MARK = re.compile(r"^\[Page (\d+)\]\n", re.MULTILINE)  # how extraction starts each PDF page
SETS = (TASK_TOOLS, CHAT_TOOLS)


def _scope(ctx) -> tuple[str | None, str | None]:
    """(project id, task id) of the run calling a tool."""
    task = getattr(ctx, "task", None)
    if isinstance(task, dict):
        return task.get("projectId"), task.get("id")
    conversation = getattr(ctx, "conversation", None) or {}
    return conversation.get("projectId"), None


# ---- read_document -------------------------------------------------------------------------

@tool("read_document",
      "Read a document's extracted text by its documentId: a page (PDFs), or `length` characters "
      f"from `offset` (default the first {DEFAULT_READ_CHARS:,}). The answer says how to go on.",
      {"documentId": {"type": "string"},
       "page": {"type": "integer", "description": "1-based page number (documents with pages)"},
       "offset": {"type": "integer", "description": "0-based character offset"},
       "length": {"type": "integer", "description": f"characters to read (at most {MAX_READ_CHARS:,})"}},
      ("documentId",), sets=SETS)
async def read_document(ctx, args: dict) -> str:
    document_id = text_arg(args, "documentId", required=True, limit=100)
    length = int_arg(args, "length", DEFAULT_READ_CHARS, maximum=MAX_READ_CHARS)
    if args.get("page") not in (None, ""):
        return await _read_page(ctx.db, document_id, int_arg(args, "page", 1, maximum=MAX_INDEX), length)
    offset = int_arg(args, "offset", 0, minimum=0, maximum=MAX_INDEX)
    doc = _readable(await store.get_document_text(ctx.db, document_id, offset, offset + length), document_id)
    total = doc["totalChars"]
    if offset >= total:
        raise ToolError(f"offset {offset} is past the end of the document ({total:,} characters)")
    more = f" Continue with offset={doc['end']}." if doc["end"] < total else " This is the end of the document."
    return f"{_heading(doc)}\nCharacters {doc['start']:,}-{doc['end']:,} of {total:,}.{more}\n\n{doc['text']}"


async def _read_page(db: Database, document_id: str, page: int, length: int) -> str:
    doc = _readable(await store.get_document_text(db, document_id), document_id)  # the whole text
    marks = list(PAGE_MARK.finditer(doc["text"]))
    if not marks:
        raise ToolError(f"'{doc['originalName']}' has no pages; read it by offset and length")
    found = next((i for i, m in enumerate(marks) if int(m.group(1)) == page), None)
    if found is None:
        raise ToolError(f"page {page} was not read from '{doc['originalName']}': pages "
                        f"{marks[0].group(1)}-{marks[-1].group(1)} were")
    end = marks[found + 1].start() if found + 1 < len(marks) else len(doc["text"])
    text = doc["text"][marks[found].end():end].strip()
    cut = f" The page is cut at {length:,} of its {len(text):,} characters." if len(text) > length else ""
    return f"{_heading(doc)}\nPage {page} of {marks[-1].group(1)}.{cut}\n\n{text[:length]}"


def _readable(doc: dict | None, document_id: str) -> dict:
    if doc is None:
        raise ToolError(f"no document with id '{document_id}'")
    if doc["status"] in ("uploaded", "processing"):
        raise ToolError(f"'{doc['originalName']}' is still being processed; try again later")
    if doc["status"] == "error":
        raise ToolError(f"the text of '{doc['originalName']}' could not be extracted: {doc.get('processingError')}")
    if not doc["totalChars"]:
        raise ToolError(f"'{doc['originalName']}' has no extracted text ({doc['mimeType']})")
    return doc


def _heading(doc: dict) -> str:
    return f"Document: {doc['originalName']} (documentId {doc['id']}, {doc['mimeType']})"


# ---- search_documents ----------------------------------------------------------------------

@tool("search_documents",
      "Search this project's documents by name and text (case-insensitive substring). Returns "
      "each match's documentId, name and a snippet around the first hit; read more with read_document.",
      {"query": {"type": "string"}, "limit": {"type": "integer", "description": f"at most {MAX_SEARCH_RESULTS}"}},
      ("query",), sets=SETS)
async def search_documents(ctx, args: dict) -> dict:
    query = text_arg(args, "query", required=True, limit=200)
    limit = int_arg(args, "limit", 10, maximum=MAX_SEARCH_RESULTS)
    project_id, _ = _scope(ctx)
    rows = await store.search_documents(ctx.db, query, project_id, limit)
    results = [{"documentId": r["id"], "name": r["originalName"], "status": r["status"],
                "direction": r["direction"], "version": r["version"], "snippet": (r["snippet"] or "").strip()}
               for r in rows]
    return {"query": query, "count": len(results), "results": results}


# ---- save_document -------------------------------------------------------------------------

def clean_name(raw: str) -> str:
    """A display name: the last path part, no control characters, an extension (.md by default)."""
    name = ingest.clean_original_name(raw).strip(" .")
    if not name or name == "upload":
        raise ToolError("'name' must be a file name such as report.md")
    if not PurePosixPath(name).suffix:
        name += ".md"
    return name[-MAX_NAME_CHARS:] if len(name) > MAX_NAME_CHARS else name


def _write_private(folder, target, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


SMALL_FILE = 64 * 1024  # written on the loop: a page-cache write, cheaper than a thread hop


async def write_text_document(db: Database, name: str, content: str, *, project_id: str | None,
                              task_id: str | None, source: str = "agent") -> dict:
    """Write `content` as the file of a new output document named `name`; returns the row's
    fields for store.insert_in (the caller inserts it, in its own transaction if it likes, and
    calls discard_text_document if that fails)."""
    name = clean_name(name)
    document_id = new_id()
    folder = ingest.uploads_dir(db.path.parent)  # the database lives at the data dir's top
    target = folder / ingest.stored_name(document_id, name)
    data = content.encode("utf-8", "replace")
    if len(data) <= SMALL_FILE:
        _write_private(folder, target, data)
    else:
        await asyncio.to_thread(_write_private, folder, target, data)
    return {"id": document_id, "filename": target.name, "original_name": name,
            "mime_type": ingest.mime_for(name, "text/plain"), "size": len(data), "storage_path": str(target),
            "task_id": task_id, "project_id": project_id, "direction": "output", "status": "ready",
            "extracted_text": content, "source": source}


def discard_text_document(fields: dict) -> None:
    """Remove the file write_text_document wrote, when its row could not be inserted."""
    Path(fields["storage_path"]).unlink(missing_ok=True)


async def save_text_document(db: Database, name: str, content: str, *, project_id: str | None,
                             task_id: str | None, source: str = "agent") -> dict:
    """Keep `content` as an output document named `name` (its next version in the project),
    ready at once: the text is what was saved, nothing needs extracting."""
    fields = await write_text_document(db, name, content, project_id=project_id, task_id=task_id, source=source)
    try:
        return await store.create(db, fields)
    except BaseException:
        await asyncio.to_thread(discard_text_document, fields)
        raise


@tool("save_document",
      "Save content as an output document of this project (e.g. a report): `name` is its file name "
      "(report.md); saving the same name again makes a new version.",
      {"name": {"type": "string"}, "content": {"type": "string"}}, ("name", "content"), sets=SETS)
async def save_document(ctx, args: dict) -> dict:
    name = text_arg(args, "name", required=True, limit=1000)
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("'content' must be a string")
    if len(content) > MAX_SAVE_CHARS:
        raise ToolError(f"'content' is longer than {MAX_SAVE_CHARS:,} characters")
    project_id, task_id = _scope(ctx)
    saved = await save_text_document(ctx.db, name, content, project_id=project_id, task_id=task_id)
    if hasattr(ctx, "touch"):  # chat: the reply's quick-access links
        ctx.touch("document", saved["id"], saved["originalName"])
    return {"documentId": saved["id"], "name": saved["originalName"], "version": saved["version"],
            "size": saved["size"]}

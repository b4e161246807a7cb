"""How bound documents reach a model's prompt (docs/decisions/023b-documents-in-runs.md).

A document whose extracted text is at most INLINE_DOC_CHARS goes into the prompt whole, while
the prompt's document budget (INLINE_BUDGET_CHARS, ≈ 8,000 tokens at 4 characters a token)
lasts, in binding order. Every other document is named with its id, size and status, and the
model is told to read it with `read_document` (a page or a character range) or to look
through it with `search_documents`. Images, documents still being processed and those whose
extraction failed are named with what the model can (not) do with them.
"""

from __future__ import annotations

from ...db import Database
from ...store import document_context as store

CHARS_PER_TOKEN = 4
INLINE_DOC_CHARS = 10_000       # ≈ 2,500 tokens: a document this short goes in whole
INLINE_BUDGET_CHARS = 32_000    # ≈ 8,000 tokens: all inlined documents of one prompt together
READ_HINT = ("Read a named document with the read_document tool (its documentId, then a page or an "
             "offset and length); search_documents finds passages across the project's documents.")


def _label(doc: dict) -> str:
    return f"{doc.get('originalName') or 'document'} (documentId {doc['id']})"


def _note(doc: dict) -> str:
    """Why a document is named instead of inlined, and what to do about it."""
    status, chars = doc.get("status"), doc.get("chars")
    if status in ("uploaded", "processing"):
        return "still being processed; its text is not available yet"
    if status == "error":
        return f"its text could not be extracted ({doc.get('processingError') or 'unknown error'})"
    if (doc.get("mimeType") or "").startswith("image/"):
        described = f": {doc['head'].strip()[:200]}" if doc.get("head") else ""
        return f"an image ({doc['mimeType']}){described}"
    if not chars:
        return "no text could be extracted from it"
    return f"{chars:,} characters (about {chars // CHARS_PER_TOKEN:,} tokens); read it with read_document"


def documents_block(docs: list[dict], title: str, *, budget: int = INLINE_BUDGET_CHARS) -> str:
    """The prompt section for `docs` (dicts with id, originalName, mimeType, status, chars, head:
    the first characters of the text, at least INLINE_DOC_CHARS + 1 of them when there are so
    many); "" when there are none."""
    if not docs:
        return ""
    inline, named, left = [], [], budget
    for doc in docs:
        chars, head = doc.get("chars") or 0, doc.get("head")
        readable = doc.get("status") in (None, "ready") and head and not (doc.get("mimeType") or "").startswith("image/")
        if readable and chars <= INLINE_DOC_CHARS and chars <= left:
            inline.append(f"--- {_label(doc)} ---\n{head}")
            left -= chars
        else:
            named.append(f"- {_label(doc)}: {_note(doc)}")
    parts = [f"{title}:"]
    parts += inline
    if named:
        parts.append(("Also attached, not included above:\n" if inline else "") + "\n".join(named))
    parts.append(READ_HINT)
    return "\n\n".join(parts)


async def task_documents_prompt(db: Database, task: dict) -> str:
    """The system-prompt section for a task run's bound documents: its own, its project's
    defaults and, for a scheduled run, its schedule's ("" when there are none)."""
    docs = await store.run_documents(db, task, INLINE_DOC_CHARS + 1)
    block = documents_block(docs, "Documents attached to this task")
    return f"\n\n{block}" if block else ""


def earlier_outputs_block(docs: list[dict]) -> str:
    """Output documents earlier steps of a workflow run saved, named (not inlined: a step's
    result already reaches the next step as its previous output)."""
    if not docs:
        return ""
    lines = [f"- {_label(d)}, version {d.get('version') or 1}, {d.get('chars') or 0:,} characters" for d in docs]
    return "Documents saved by earlier steps of this run (read them with read_document):\n" + "\n".join(lines)

"""POST /api/tables/{id}/import: a document (CSV, TSV, XLSX) previewed, or imported into a table.

The file is read and its cells converted in a worker thread (importing.py); the rows go in
through rows.add_rows, so they are validated like any other rows, computed columns are filled
and triggers see one `row_added` operation (bounded, decision 024b).

Mapping: `columnMapping` is one entry per file column, in the file's order (or naming the file
column in `header`): `{name, displayName, dataType, skip?}`. A name the table already has fills
that column (its type wins); a new name adds a column. Without a mapping, the inferred columns
are used. Good rows are kept; the first MAX_ERRORS bad ones are reported by their line number.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ...db import Database
from ...errors import Invalid, NotFound
from ...events import EventBus
from ...store import tables as table_store
from ...store import user_table_imports as store
from . import importing, rows
from .columns import validate_column

MAX_ERRORS = 20
IMPORTABLE_TYPES = ("text", "number", "date", "boolean", "select", "url", "email")


async def _read(db: Database, document_id: str) -> tuple[list[str], list[list]]:
    document = await store.get_document(db, document_id)
    if document is None:
        raise NotFound("Document not found")
    try:
        kind = importing.file_kind(document["mimeType"], document["originalName"])
        return await asyncio.to_thread(importing.read_table_file, Path(document["storagePath"]), kind)
    except importing.ImportFormatError as exc:
        raise Invalid(str(exc)) from None


async def preview(db: Database, table_id: str, document_id: str) -> dict:
    await rows.table_columns(db, table_id)  # 404 first
    headers, data = await _read(db, document_id)
    return await asyncio.to_thread(importing.preview, headers, data)


def _plan(headers: list[str], mapping: list[dict] | None, inferred: list[dict], existing: list[dict]
          ) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(file column index -> table column, the columns to add)."""
    if mapping is None:
        mapping = inferred
    elif len(mapping) != len(headers) and not all("header" in m for m in mapping):
        raise Invalid(f"columnMapping must have one entry per file column ({len(headers)}), "
                      "or name each file column in `header`")
    by_name = {c["name"]: c for c in existing}
    plan, new, taken = [], [], set()
    for position, entry in enumerate(mapping):
        index = headers.index(entry["header"]) if entry.get("header") in headers else position
        if "header" in entry and entry["header"] not in headers:
            raise Invalid(f"columnMapping: the file has no column {entry['header']!r}")
        if entry.get("skip"):
            continue
        name = (entry.get("name") or "").strip()
        if name in taken:
            raise Invalid(f"columnMapping: column {name!r} is mapped twice")
        taken.add(name)
        if name in by_name:
            column = by_name[name]
            if column["dataType"] in ("computed", "relation"):
                raise Invalid(f"columnMapping: column {name!r} is {column['dataType']}; it cannot be imported into")
        else:
            if entry.get("dataType") not in IMPORTABLE_TYPES:
                raise Invalid(f"columnMapping: {name or 'a column'}: dataType must be one of "
                              f"{', '.join(IMPORTABLE_TYPES)}")
            column = validate_column({**entry, "name": name}, existing + new)
            new.append(column)
        plan.append((index, column))
    if not plan:
        raise Invalid("columnMapping skips every column; nothing to import")
    return plan, new


async def run_import(db: Database, table_id: str, document_id: str, mapping: list[dict] | None,
                     events: EventBus | None) -> dict:
    existing = await rows.table_columns(db, table_id)
    headers, data = await _read(db, document_id)
    inferred = await asyncio.to_thread(importing.infer_columns, headers, data) if mapping is None else []
    plan, new_columns = _plan(headers, mapping, inferred, existing)
    good, errors, skipped = await asyncio.to_thread(importing.convert_rows, data, plan, MAX_ERRORS)

    if new_columns:
        def add_columns(conn):
            if table_store.get_table_in(conn, table_id) is None:
                raise NotFound("Table not found")
            for column in new_columns:
                table_store.add_column_in(conn, table_id, column)

        await db.write(add_columns)
    refused: list[dict] = []
    created = await rows.add_rows(db, table_id, [d for _, d in good], "user", events=events,
                                  errors=refused) if good else []
    for entry in refused:  # cells the converter let through but the column refuses
        skipped += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"row": good[entry["row"]][0], "error": entry["error"].split(": ", 1)[-1]})
    if not existing and new_columns:
        await store.mark_imported(db, table_id)
    import_id = await store.record_import(db, table_id, document_id, row_count=len(created), error_count=skipped,
                                          errors=errors, status="completed" if created or not data else "failed")
    return {"importId": import_id, "rowsImported": len(created), "rowsSkipped": skipped,
            "errors": sorted(errors, key=lambda e: e["row"])[:MAX_ERRORS],
            "columns": await table_store.get_columns(db, table_id)}


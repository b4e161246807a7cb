"""A table's rows as a CSV, JSON or XLSX file. Synchronous: callers build the bytes with
`asyncio.to_thread`, off the event loop.

Columns come in the table's order, headed by their display names (CSV, XLSX) or keyed by their
names (JSON: one object per row, as the rows' `data`). Values that are lists or objects are
written as JSON text in CSV and XLSX. A CSV cell that a spreadsheet would run as a formula
(`=`, `+`, `-`, `@` first) is prefixed with `'` (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
import re

from ...db import Database
from ...errors import NotFound
from ...store import table_rows as row_store
from ...store import tables as table_store
from . import computed

MAX_EXPORT_ROWS = 10_000
FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"),
           "json": ("application/json", "json"),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = re.compile(r"^[-+]?\d+(\.\d+)?$")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _safe_csv(value):
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMERIC.match(value):
        return "'" + value
    return value


def build(fmt: str, columns: list[dict], rows: list[dict]) -> bytes:
    """`columns`: [{name, displayName}] in order; `rows`: the rows' data objects."""
    names = [c["name"] for c in columns]
    if fmt == "json":
        return json.dumps([{n: row.get(n) for n in names if n in row} for row in rows],
                          ensure_ascii=False, indent=2).encode()
    headers = [c.get("displayName") or c["name"] for c in columns]
    if fmt == "xlsx":
        return _xlsx(headers, names, rows)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([_safe_csv(h) for h in headers])
    for row in rows:
        writer.writerow([_safe_csv(row.get(n)) for n in names])
    return ("\ufeff" + out.getvalue()).encode()  # the BOM lets spreadsheets read UTF-8


def _xlsx(headers: list[str], names: list[str], rows: list[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Table")

    def value(v):
        v = _cell(v)
        if not isinstance(v, str):
            return v
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
        if v.startswith("="):  # text, never a formula the spreadsheet would run
            cell = WriteOnlyCell(sheet, v)
            cell.data_type = "s"
            return cell
        return v

    sheet.append([value(h) for h in headers])
    for row in rows:
        sheet.append([value(row.get(n)) for n in names])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(table_name: str, fmt: str) -> str:
    """A safe `<table name>.<ext>` for Content-Disposition."""
    stem = re.sub(r'[\x00-\x1f"\\/]+', "_", table_name).strip() or "table"
    return f"{stem[:100]}.{FORMATS[fmt][1]}"


async def export_rows(db: Database, table_id: str, limit: int = MAX_EXPORT_ROWS) -> tuple[dict, list[dict]]:
    """(the table with its columns, the data of its first `limit` rows in table order, computed
    values fresh). NotFound for an unknown table."""
    table = await table_store.get_table(db, table_id)
    if table is None:
        raise NotFound("Table not found")
    rows = await row_store.query_rows(db, table_id, [], [], limit, 0)
    order = computed.evaluation_order(table["columns"])
    return table, [computed.apply(order, r["data"]) if order else r["data"] for r in rows]

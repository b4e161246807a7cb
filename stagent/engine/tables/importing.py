"""Reading a CSV, TSV or XLSX document into rows, inferring column types, and turning a cell into
a typed value. Everything here is synchronous and CPU- or disk-bound: callers run it with
`asyncio.to_thread`, never on the event loop.

Rules (decision 024b):
- the first row holds the headers; an empty header becomes `column_<n>`, a repeated one gets
  `_2`, `_3`; column names are the headers made into keys (lower case, `_` for anything else);
- XLSX: the first worksheet, read in openpyxl's read-only mode, formulas as their cached values;
- a type is inferred from up to INFER_SAMPLE non-empty cells: boolean, number, date, email, url,
  else text; one cell that does not fit makes the column text;
- an empty cell is no value (the key is left out of the row); a cell that does not fit its
  column's type is an error of its row, and the row is skipped.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time
from pathlib import Path

MAX_IMPORT_ROWS = 100_000
MAX_FILE_BYTES = 50 * 1024 * 1024
INFER_SAMPLE = 1000
PREVIEW_ROWS = 10
MAX_COLUMNS = 200

CSV_TYPES = {"text/csv", "application/csv", "text/x-csv", "application/vnd.ms-excel"}
TSV_TYPES = {"text/tab-separated-values", "text/tsv"}
XLSX_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_PLAIN_INT = re.compile(r"^-?\d{1,15}$")
_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")


class ImportFormatError(ValueError):
    """The document cannot be read as a table (wrong type, empty, too large)."""


def file_kind(mime_type: str | None, name: str | None) -> str:
    """csv, tsv or xlsx from the document's MIME type, else from its name's extension."""
    mime = (mime_type or "").split(";")[0].strip().lower()
    suffix = Path(name or "").suffix.lower()
    if mime in TSV_TYPES or suffix in (".tsv", ".tab"):
        return "tsv"
    if mime in XLSX_TYPES or suffix == ".xlsx":
        return "xlsx"
    if mime in CSV_TYPES or suffix == ".csv":
        return "csv"
    raise ImportFormatError(f"Unsupported file type {mime or suffix or 'unknown'}: import reads CSV, TSV or XLSX")


def read_table_file(path: Path, kind: str) -> tuple[list[str], list[list]]:
    """(headers, data rows) of the file; each row has exactly len(headers) cells."""
    try:
        size = path.stat().st_size
    except OSError:
        raise ImportFormatError("The document's file is missing on disk") from None
    if size > MAX_FILE_BYTES:
        raise ImportFormatError(f"The file is {size:,} bytes, over the {MAX_FILE_BYTES // 2**20} MiB import limit")
    raw_rows = _read_xlsx(path) if kind == "xlsx" else _read_delimited(path, "\t" if kind == "tsv" else ",")
    header_row = next(raw_rows, None)
    if header_row is None or not any(_blank(c) is False for c in header_row):
        raise ImportFormatError("The file is empty: the first row must hold the column headers")
    headers = unique_headers(header_row)
    if len(headers) > MAX_COLUMNS:
        raise ImportFormatError(f"The file has {len(headers)} columns; at most {MAX_COLUMNS} can be imported")
    rows = []
    for raw in raw_rows:
        if all(_blank(c) for c in raw):
            continue
        if len(rows) >= MAX_IMPORT_ROWS:
            raise ImportFormatError(f"The file has more than {MAX_IMPORT_ROWS:,} rows; split it and import the parts")
        cells = list(raw[:len(headers)])
        cells.extend([None] * (len(headers) - len(cells)))
        rows.append(cells)
    return headers, rows


def _read_delimited(path: Path, delimiter: str):
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything; latin-1 decodes everything
        text = data.decode("latin-1")
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise ImportFormatError(f"The file is not valid {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}") from None


def _read_xlsx(path: Path):
    import zipfile

    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFormatError(f"The file is not a readable XLSX workbook: {exc}") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def column_key(header: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")[:64]
    if not key:
        return ""
    return f"c_{key}"[:64] if key[0].isdigit() else key


def unique_headers(header_row) -> list[str]:
    cells = list(header_row)
    while cells and _blank(cells[-1]):  # trailing empty header cells are no columns
        cells.pop()
    headers, seen = [], set()
    for i, cell in enumerate(cells, start=1):
        text = "" if cell is None else str(cell).strip()
        base = text or f"column_{i}"
        name, n = base, 2
        while name.lower() in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name.lower())
        headers.append(name[:128])
    return headers


# ---- types --------------------------------------------------------------------------------------

def _as_text(cell) -> str:
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _number(cell) -> float | int:
    if isinstance(cell, bool):
        raise ValueError("is not a number")
    if isinstance(cell, (int, float)):
        return cell
    text = str(cell).strip()
    if _PLAIN_INT.match(text):  # the common case first
        return int(text)
    text = text.lstrip("$€£").strip()
    if _GROUPED.match(text):
        text = text.replace(",", "")
    if not _NUMBER.match(text):
        raise ValueError("is not a number")
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _date(cell) -> str:
    if isinstance(cell, (datetime, date)):
        return _as_text(cell)
    text = str(cell).strip()
    if len(text) == 10 and _ISO_DATE.match(text):  # the common case, without strptime's cost
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.date().isoformat() if parsed.time() == time() else parsed.isoformat()
    raise ValueError("is not a date (YYYY-MM-DD)")


def _boolean(cell) -> bool:
    if isinstance(cell, bool):
        return cell
    text = _as_text(cell).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("is not true or false")


def _matching(pattern: re.Pattern, what: str):
    def coerce(cell) -> str:
        text = _as_text(cell)
        if not pattern.match(text):
            raise ValueError(f"is not {what}")
        return text
    return coerce


_COERCE = {"number": _number, "date": _date, "boolean": _boolean,
           "email": _matching(_EMAIL, "an email address"), "url": _matching(_URL, "an http(s) URL")}


def coerce(cell, data_type: str, options: list | None = None):
    """The cell as a value of `data_type`; None for an empty cell; ValueError when it does not fit."""
    if _blank(cell):
        return None
    convert = _COERCE.get(data_type)
    if convert is not None:
        return convert(cell)
    text = _as_text(cell)
    if data_type == "select" and options and text not in options:
        raise ValueError(f"is not one of {', '.join(map(str, options))}")
    return text


def _converter(column: dict):
    """coerce() for one column, its type and options looked up once (imports convert 10^5 rows)."""
    data_type = column["dataType"]
    convert = _COERCE.get(data_type)
    if convert is not None:
        return convert
    options = (column.get("config") or {}).get("options") if data_type == "select" else None
    if not options:
        return _as_text
    allowed = set(options)

    def select(cell) -> str:
        text = _as_text(cell)
        if text not in allowed:
            raise ValueError(f"is not one of {', '.join(map(str, options))}")
        return text
    return select


def infer_type(cells) -> str:
    sample = [c for c in cells if not _blank(c)][:INFER_SAMPLE]
    if not sample:
        return "text"
    for data_type in ("boolean", "number", "date", "email", "url"):
        try:
            for cell in sample:
                if data_type == "boolean" and isinstance(cell, (int, float)) and not isinstance(cell, bool):
                    raise ValueError  # 0/1 columns of a spreadsheet are numbers
                _COERCE[data_type](cell)
        except ValueError:
            continue
        return data_type
    return "text"


def infer_columns(headers: list[str], rows: list[list]) -> list[dict]:
    """A ColumnDef per header: `name` (a key), `displayName` (the header), `dataType`."""
    columns, used = [], set()
    for i, header in enumerate(headers):
        name = column_key(header) or f"column_{i + 1}"
        base, n = name, 2
        while name in used:
            name, n = f"{base}_{n}"[:64], n + 1
        used.add(name)
        columns.append({"name": name, "displayName": header,
                        "dataType": infer_type(row[i] for row in rows[:INFER_SAMPLE])})
    return columns


def preview(headers: list[str], rows: list[list]) -> dict:
    sample = [{h: (None if _blank(c) else _as_text(c)) for h, c in zip(headers, row, strict=True)}
              for row in rows[:PREVIEW_ROWS]]
    return {"headers": headers, "sampleRows": sample, "totalRows": len(rows),
            "inferredColumns": infer_columns(headers, rows)}


def convert_rows(rows: list[list], plan: list[tuple[int, dict]], max_errors: int = 20
                 ) -> tuple[list[tuple[int, dict]], list[dict], int]:
    """([(line number, row data)], the first `max_errors` errors, how many rows were skipped).

    `plan` pairs a file column's index with the table column it fills ({name, dataType,
    required?, config?}). A row number in an error counts the header as row 1, as a
    spreadsheet shows it.
    """
    good, errors, skipped = [], [], 0
    steps = [(index, column["name"], bool(column.get("required")), _converter(column)) for index, column in plan]
    for number, row in enumerate(rows, start=2):
        data, problem = {}, None
        for index, name, required, convert in steps:
            cell = row[index]
            if cell is None or cell == "" or (isinstance(cell, str) and not cell.strip()):
                if required:
                    problem = f"{name}: a value is required"
                    break
                continue
            try:
                data[name] = convert(cell)
            except ValueError as exc:
                problem = f"{name}: '{_as_text(cell)[:80]}' {exc}"
                break
        if problem is None:
            good.append((number, data))
        else:
            skipped += 1
            if len(errors) < max_errors:
                errors.append({"row": number, "error": problem})
    return good, errors, skipped

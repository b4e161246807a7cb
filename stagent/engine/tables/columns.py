"""Column types: what a column definition may say and what a cell of each type holds.

A cell is stored in its JSON type: number → number, boolean → true/false, date → ISO text,
relation → a row id or a list of row ids, the others → text. Values are coerced where the
meaning is plain ("42" into a number column, "yes" into a boolean) and refused otherwise, with
a message naming the column.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime

from ...errors import Invalid

DATA_TYPES = ("text", "number", "date", "boolean", "select", "url", "email", "relation", "computed")
FORMULA_TYPES = ("arithmetic", "text_concat", "date_diff", "conditional", "aggregate")
MAX_TEXT = 100_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(?:(?:https?|ftp)://[^\s/?#]+\S*|mailto:\S+)$", re.IGNORECASE)
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def check_column_name(name: str) -> str:
    """A column name is the key of its cells in row data and in filter JSON paths."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Invalid("Column name must be 1-64 characters")
    if any(c in name for c in '"\\') or any(ord(c) < 32 for c in name):
        raise Invalid(f"Column name {name!r} may not contain quotes, backslashes or control characters")
    return name


def json_path(name: str) -> str:
    return '$."' + name + '"'


def parse_date(value: str) -> date | None:
    """An ISO date or date-time (`2026-04-03`, `2026-04-03T10:30:00Z`), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _fit(number):
    """SQLite integers are 64-bit: a larger int is kept as a float (bound, it would not fit)."""
    return float(number) if isinstance(number, int) and not -2**63 <= number < 2**63 else number


def _number(value):
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return _fit(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        whole = number.is_integer() and "." not in text and "e" not in text.lower()
        return _fit(int(text)) if whole and text.lstrip("+-").isdigit() else number
    raise ValueError("expected a number")


def _boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _text(value) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected text, got an object or list")
    text = value if isinstance(value, str) else ("true" if value is True else "false" if value is False
                                                 else str(value))
    if len(text) > MAX_TEXT:
        raise ValueError(f"text longer than {MAX_TEXT} characters")
    return text


def coerce(column: dict, value):
    """The value as stored in `column`, or None for an empty cell. Raises ValueError."""
    return coercer(column)(value)


def _date_cell(value):
    if parse_date(value) is None:
        raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {value!r}")
    return value.strip()


def _relation_cell(value):
    ids = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids) or len(ids) > 1000:
        raise ValueError("expected a row id or a list of row ids")
    return value


def _text_cell(check=None):
    def cell(value):
        text = value if type(value) is str and len(value) <= MAX_TEXT else _text(value)
        if check is not None:
            check(text)
        return text
    return cell


def _check_url(text: str) -> None:
    if not _URL.match(text.strip()):
        raise ValueError(f"expected a URL, got {text!r}")


def _check_email(text: str) -> None:
    if not _EMAIL.match(text.strip()):
        raise ValueError(f"expected an email address, got {text!r}")


def _check_option(options: list):
    allowed = set(options)

    def check(text: str) -> None:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(map(str, options))}, got {text!r}")
    return check


def coercer(column: dict):
    """`fn(value) -> stored value | None` for the column: made once per batch of rows."""
    kind = column["dataType"]
    if kind == "number":
        convert = _number
    elif kind == "boolean":
        convert = _boolean
    elif kind == "date":
        convert = _date_cell
    elif kind == "relation":
        convert = _relation_cell
    elif kind == "select":
        options = (column.get("config") or {}).get("options") or []
        convert = _text_cell(_check_option(options) if options else None)
    elif kind == "url":
        convert = _text_cell(_check_url)
    elif kind == "email":
        convert = _text_cell(_check_email)
    else:
        convert = _text_cell()
    if kind == "text":
        return lambda value: None if value is None else convert(value)
    return lambda value: None if value is None or value == "" else convert(value)


def coerce_filter_value(column: dict, value):
    """A filter's comparison value in the cell's stored type (booleans compare as 1/0 in SQL)."""
    kind = column["dataType"]
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        return int(_boolean(value))
    if kind == "computed":
        config = column.get("config") or {}
        result = config.get("resultType") or {"arithmetic": "number", "date_diff": "number",
                                              "aggregate": "number"}.get(config.get("formulaType"))
        if result == "boolean":
            return int(_boolean(value))
        if result == "number" or (result is None and isinstance(value, str)):
            try:
                return _number(value)
            except ValueError:
                if result == "number":
                    raise
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return _number(value)
    return _text(value)


def validate_column(column: dict, existing: list[dict]) -> dict:
    """A column definition from a client (camelCase keys) checked and normalised; `existing`
    are the table's other columns (names must be unique). Computed formulas are checked by
    engine/tables/computed.py, which sees all the columns at once."""
    name = check_column_name(column.get("name") or "")
    if any(c["name"] == name for c in existing):
        raise Invalid(f"Column {name!r} already exists")
    kind = column.get("dataType")
    if kind not in DATA_TYPES:
        raise Invalid(f"dataType must be one of {', '.join(DATA_TYPES)}")
    display = (column.get("displayName") or name).strip()[:128] or name
    config = column.get("config") or None
    if config is not None and not isinstance(config, dict):
        raise Invalid("config must be an object")
    config = dict(config or {})
    if kind == "select":
        options = config.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise Invalid(f"Column {name!r}: config.options must be a list of strings")
    if kind == "relation" and not isinstance(config.get("targetTableId"), str):
        raise Invalid(f"Column {name!r}: a relation column needs config.targetTableId")
    if kind == "relation" and not isinstance(config.get("displayColumn", ""), str):
        raise Invalid(f"Column {name!r}: config.displayColumn must be a column name")
    if kind == "computed":
        if not isinstance(config.get("formula"), str) or not config["formula"].strip():
            raise Invalid(f"Column {name!r}: a computed column needs config.formula")
        if config.get("formulaType", "arithmetic") not in FORMULA_TYPES:
            raise Invalid(f"Column {name!r}: formulaType must be one of {', '.join(FORMULA_TYPES)}")
    out = {"name": name, "displayName": display, "dataType": kind, "required": bool(column.get("required")),
           "defaultValue": None, "config": config or None}
    default = column.get("defaultValue")
    if default is not None and kind != "computed":
        try:
            stored = coerce(out, default)
        except ValueError as exc:
            raise Invalid(f"Column {name!r}: defaultValue: {exc}") from None
        out["defaultValue"] = None if stored is None else (stored if isinstance(stored, str) else
                                                           json.dumps(stored))
    return out


def default_of(column: dict):
    """The column's default as a cell value (stored as text in the column row)."""
    raw = column.get("defaultValue")
    if raw is None:
        return None
    if column["dataType"] in ("number", "boolean", "relation"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw if column["dataType"] == "relation" else None
    return raw

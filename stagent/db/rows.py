"""Small helpers shared by every store module: ids, timestamps, JSON and bool columns."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any


def new_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    """UTC, millisecond precision, `Z` suffix: sorts lexically in time order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


@functools.lru_cache(maxsize=1024)
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def row_to_dict(row, bools: tuple[str, ...] = ()) -> dict:
    """sqlite3.Row with snake_case columns -> camelCase dict; named 0/1 columns -> bool."""
    out = {camel(key): value for key, value in zip(row.keys(), row, strict=True)}
    for key in bools:
        name = camel(key)
        if out.get(name) is not None:
            out[name] = bool(out[name])
    return out

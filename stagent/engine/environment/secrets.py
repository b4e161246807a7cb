"""Masking of the secrets a Claude Code / Codex config holds (tokens, keys, env values).

Invariant: every text this domain hands out (artifact previews and metadata, sync previews,
diffs, checkpoint diffs) went through `mask_text` with the secret values of every config it
was built from; only the files a sync writes carry the real values.

Secrets are found structurally (`secret_values`): every value under an `env`, `headers` or
`http_headers` table, and every string whose key names a credential. They are then replaced
wherever they occur in the text, so a diff line shows `[REDACTED]` as its preview does.
Credential-shaped tokens that are not in a config (`sk-…`, `Bearer …`) go through
stagent/sanitize.py's `redact`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...sanitize import REDACTED, redact

SECRET_KEY = re.compile(r"(?i)(token|secret|passw(or)?d|api[_-]?key|apikey|auth(?!or)|credential|private[_-]?key|"
                        r"access[_-]?key|bearer|cookie|session[_-]?id)")
SECRET_TABLES = frozenset({"env", "headers", "http_headers", "env_http_headers"})
MIN_SECRET = 4  # shorter values ("1", "dev") would mask ordinary words
UNQUOTED_MIN = 8


def secret_values(data: Any, under_secret: bool = False) -> set[str]:
    """The string values of a parsed JSON/TOML document that are secrets."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            secret = under_secret or str(key).lower() in SECRET_TABLES or bool(SECRET_KEY.search(str(key)))
            if isinstance(value, str):
                if secret and len(value) >= MIN_SECRET:
                    found.add(value)
            else:
                found |= secret_values(value, secret if isinstance(value, (dict, list)) else False)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, str):
                if under_secret and len(item) >= MIN_SECRET:
                    found.add(item)
            else:
                found |= secret_values(item, under_secret)
    return found


def mask_text(text: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """`text` with every value of `secrets` (longest first) and every credential shape masked.

    A value is masked where it stands quoted, raw or JSON/TOML-escaped (`"p\\"w"`); unquoted
    only from 8 characters on, so a short env value ("true") does not mask every such word.
    """
    if not text:
        return text
    for value in sorted(secrets, key=len, reverse=True):
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        for form in dict.fromkeys((escaped, value)):
            for quote in ('"', "'"):
                text = text.replace(f"{quote}{form}{quote}", f"{quote}{REDACTED}{quote}")
            if len(value) >= UNQUOTED_MIN:
                text = text.replace(form, REDACTED)
    return redact(text)


def mask_data(data: Any, under_secret: bool = False) -> Any:
    """A parsed config with its secret values replaced (for artifact metadata)."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            secret = under_secret or str(key).lower() in SECRET_TABLES or bool(SECRET_KEY.search(str(key)))
            if isinstance(value, str):
                out[key] = REDACTED if secret and len(value) >= MIN_SECRET else redact(value)
            else:
                out[key] = mask_data(value, secret if isinstance(value, (dict, list)) else False)
        return out
    if isinstance(data, list):
        return [(REDACTED if under_secret and len(v) >= MIN_SECRET else redact(v)) if isinstance(v, str)
                else mask_data(v, under_secret) for v in data]
    return data

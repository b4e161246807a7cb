"""Text that crosses an edge of the daemon: secrets redacted, lone surrogates replaced.

- `redact` masks every secret the daemon holds (provider keys, secret settings, channel
  secrets: each registered with `remember_secret` where it is read or written) and anything
  shaped like a credential (`sk-…`, `Bearer …`, `x-api-key: …`). Provider errors go through it
  where they are built (engine/agent/llm.py), so a key a provider echoes back never reaches a
  task result, a log line, a notification or a chat message.
- `scrub` replaces lone UTF-16 surrogates (`"\\ud800"` in JSON decodes to one; UTF-8 cannot
  encode it, so SQLite and every response would fail) with U+FFFD. Request bodies
  (api/_http.py), streamed model text (llm.py) and the JSON renderer go through it.
"""

from __future__ import annotations

import re
import threading
from typing import Any

REDACTED = "[REDACTED]"
_MIN_SECRET = 8  # shorter values would mask ordinary words
_secrets: set[str] = set()
_pattern: re.Pattern | None = None
_lock = threading.Lock()

# Credential shapes, whoever's they are: OpenAI/Anthropic keys, bearer tokens, key headers.
_SHAPES = (
    r"\bsk-[A-Za-z0-9_\-]{6,}",
    r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=\-]{6,}",
    r"(?i:\b(?:x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
    r"(?!\[REDACTED)[^\s\"',;}]{6,}",
)
_SHAPE = re.compile("|".join(f"(?:{s})" for s in _SHAPES))
_SURROGATE = re.compile("[\ud800-\udfff]")


def remember_secret(value: Any) -> None:
    """Register a secret the daemon holds, so `redact` masks it wherever it turns up."""
    global _pattern
    if not isinstance(value, str) or len(value.strip()) < _MIN_SECRET:
        return
    value = value.strip()
    if value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        _pattern = None


def _known() -> re.Pattern | None:
    global _pattern
    pattern = _pattern
    if pattern is None and _secrets:
        with _lock:
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            pattern = _pattern = re.compile("|".join(re.escape(s) for s in ordered))
    return pattern


def redact(text: str, extra: tuple[str | None, ...] = ()) -> str:
    """`text` with every known secret, every value of `extra` and every credential-shaped token
    replaced by [REDACTED]."""
    if not text:
        return text
    for value in extra:
        if value and len(value) >= _MIN_SECRET:
            text = text.replace(value, REDACTED)
    known = _known()
    if known is not None:
        text = known.sub(REDACTED, text)
    return _SHAPE.sub(_mask_shape, text)


def _mask_shape(match: re.Match) -> str:
    token = match.group(0)
    lower = token.lower()
    if lower.startswith("bearer"):
        return token[:6] + " " + REDACTED
    if lower.startswith("sk-"):
        return REDACTED
    # `authorization: xyz` / `api_key=xyz`: keep the name, mask the value
    head = re.match(r"(?i)[a-z_\-]+[\"']?\s*[:=]\s*[\"']?", token)
    return (head.group(0) if head else "") + REDACTED


def scrub(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a no-op for ordinary text)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def scrub_json(value: Any) -> Any:
    """A decoded JSON value with `scrub` applied to every string, keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub_json(v) for k, v in value.items()}
    return value


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def may_hold_surrogates(raw: bytes) -> bool:
    """Whether JSON text escapes a surrogate (`\\ud800`); raw UTF-8 cannot carry one."""
    return _ESCAPED_SURROGATE.search(raw) is not None

"""The Ollama proxy behind GET/POST /api/runtimes/ollama: model list and pull."""

from __future__ import annotations

import re

from ...db import Database
from ...errors import Invalid, UpstreamError
from ...store import settings
from .providers import OLLAMA_DEFAULT_BASE

# A model name as `ollama pull` takes it: llama3.2, llama3:8b, hf.co/user/model:Q4_K_M.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+\-]*")


def check_name(value: str, field: str = "model") -> str:
    """`value` when it is shaped like an Ollama model name, else Invalid saying what one looks like."""
    if len(value) <= 200 and _NAME.fullmatch(value):
        return value
    shown = value if len(value) <= 60 else value[:57] + "..."
    raise Invalid(f"{field} must be an Ollama model name as `ollama pull` takes it, e.g. llama3.2 or "
                  f"llama3:8b (no spaces or control characters); got {shown!r}")


def ollama_hint(base: str) -> str:
    return (f"Make sure Ollama is running (`ollama serve`) and reachable at {base}; point stagent "
            'at another address with POST /api/settings/ollama {"baseUrl": "http://host:11434"}.')


async def ollama_base(db: Database) -> str:
    return ((await settings.value(db, "ollama.baseUrl")).strip() or OLLAMA_DEFAULT_BASE).rstrip("/")


async def _ollama(db: Database, method: str, path: str, timeout: tuple[float, float],
                  json_body: dict | None = None) -> dict:
    import httpx  # not at module level: it would add ~0.1 s to every daemon start

    base = await ollama_base(db)
    hint = {"hint": ollama_hint(base)}
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout[0], connect=timeout[1])) as client:
            response = await client.request(method, base + path, json=json_body)
    except Exception as exc:  # refused, timed out, bad URL: all mean "Ollama is not there"
        raise UpstreamError(f"Could not reach Ollama at {base}: {str(exc) or type(exc).__name__}",
                            extra=hint) from None
    if response.status_code >= 400:
        raise UpstreamError(f"Ollama responded with status {response.status_code}: {response.text[:500]}",
                            extra=hint)
    try:
        data = response.json()
    except ValueError:
        raise UpstreamError(f"Ollama at {base} answered with something that is not JSON", extra=hint) from None
    if not isinstance(data, dict) or data.get("error"):
        raise UpstreamError(f"Ollama error: {data.get('error') if isinstance(data, dict) else data!r}"[:500],
                            extra=hint)
    return data


async def ollama_tags(db: Database) -> dict:
    """Ollama's GET /api/tags, as it answered (5 s timeout)."""
    data = await _ollama(db, "GET", "/api/tags", (5.0, 5.0))
    if not isinstance(data.get("models", []), list):
        raise UpstreamError("Ollama's model list has an unexpected shape",
                            extra={"hint": ollama_hint(await ollama_base(db))})
    return data


async def ollama_pull(db: Database, model: str) -> dict:
    """Pull a model and wait for it (blocking, up to 10 minutes)."""
    data = await _ollama(db, "POST", "/api/pull", (600.0, 5.0),
                         {"name": model, "model": model, "stream": False})
    out = {**data, "status": "ok", "model": model}
    if "status" in data:
        out["ollamaStatus"] = data["status"]
    return out

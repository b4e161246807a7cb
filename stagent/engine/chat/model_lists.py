"""The models each configured provider serves, for pickers (GET /api/chat/models): an
OpenAI-compatible server's `GET {baseUrl}/models`, Ollama's `/api/tags`, and the built-in
catalogue for the keyed providers (Anthropic, OpenAI itself), each marked `available` when its
provider is set up, and the model a new conversation would use marked `default`.

Asking a server is cheap but not free (and a remote one may be slow), so each answer is kept
for LIST_TTL seconds per base URL; a server that does not answer within LIST_TIMEOUT adds no
models (the provider's Test button says why). The base URLs are the ones the user configured
for completions, so they are asked the same way completions are.
"""

from __future__ import annotations

import asyncio
import json
import time

from ...db import Database
from ...errors import Invalid
from ...store import settings
from ..agent import ollama
from ..agent.providers import credentials, resolve_model
from .models import CHAT_MODELS, catalogue

LIST_TIMEOUT = 3.0
LIST_TTL = 20.0
MAX_SERVED = 200
MAX_LIST_BYTES = 2_000_000  # a list of a few thousand models; more is not a model list
_cache: dict[str, tuple[float, list[str]]] = {}


async def _openai_served(base: str, key: str | None) -> list[str]:
    import httpx  # not at module level: it would add ~0.1 s to every daemon start

    url = base.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(timeout=LIST_TIMEOUT, follow_redirects=False) as client:
        async with client.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise ValueError("the model list is too large")
    data = (await asyncio.to_thread(json.loads, bytes(body))).get("data")
    if not isinstance(data, list):
        return []
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)][:MAX_SERVED]


async def _ollama_served(db: Database) -> list[str]:
    data = await ollama.ollama_tags(db)
    return [m["name"] for m in data.get("models", []) if isinstance(m, dict) and isinstance(m.get("name"), str)]


async def _cached(key: str, fetch) -> list[str]:
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < LIST_TTL:
        return hit[1]
    try:
        names = await fetch()
    except Exception:  # unreachable, not JSON, an unexpected shape: nothing served
        names = []
    _cache[key] = (time.monotonic(), names)
    return names


async def model_list(db: Database) -> list[dict]:
    """The catalogue (contract fields) with `available`, `source` (builtin | served |
    configured) and `default` added; the built-in models first, in their order, as before."""
    creds = await credentials(db)
    openai_key, openai_base = creds["openai"][0], creds["openai_base"]
    listed = await catalogue(db)
    builtin = {m.id for m in CHAT_MODELS}
    ready = {"anthropic": bool(creds["anthropic"][0]),
             # OpenAI's own models only where OpenAI itself is asked (no compatible server instead)
             "openai": bool(openai_key) and not openai_base, "ollama": True}
    out = [{**m, "source": "builtin" if m["id"] in builtin else "configured",
            "available": ready.get(m["provider"], True) if m["id"] in builtin else True} for m in listed]
    served: list[dict] = []
    if openai_base:
        names = await _cached(f"openai {openai_base} {bool(openai_key)}",
                              lambda: _openai_served(openai_base, openai_key))
        served += [{"id": f"openai/{n}", "label": n, "provider": "openai", "tier": "Balanced", "costLabel": "$$"}
                   for n in names]
    if creds["ollama_set"] or creds["ollama_model"]:
        names = await _cached(f"ollama {creds['ollama_base']}", lambda: _ollama_served(db))
        served += [{"id": f"ollama:{n}", "label": n, "provider": "ollama", "tier": "Balanced", "costLabel": "Free"}
                   for n in names]
    known = {m["id"] for m in out}
    fresh = [{**m, "source": "served", "available": True} for m in served if m["id"] not in known]
    for m in out:
        if m["id"] in {s["id"] for s in served}:
            m["source"], m["available"] = "served", True
    out += fresh
    default = await _default_id(db, out)
    for m in out:
        m["default"] = m["id"] == default
    return out


async def _default_id(db: Database, models: list[dict]) -> str | None:
    """The model pickers start on: the stored chat default, else the model the daemon resolves
    (a keyed provider's), else the first model a configured server serves (a compatible server
    without a key has no default of its own); None when no provider is set up."""
    stored = (await settings.get_many(db, ["chat.defaultModel"]))["chat.defaultModel"]
    if stored:
        return stored
    first_served = next((m["id"] for m in models if m["source"] == "served"), None)
    try:
        target = await resolve_model(db)
    except Invalid:
        return first_served
    model = target.model
    if (target.provider == "openai" and target.api_base and first_served and first_served.startswith("openai/")
            and not await settings.value(db, "runtime.defaultModel")):
        # No default was chosen and the daemon fell back to OpenAI's own model, which a
        # compatible server rarely serves: start on one it does serve.
        served = {m["id"] for m in models if m["source"] == "served"}
        if model not in served:
            return first_served
    ids = {m["id"] for m in models}
    if model in ids:
        return model
    for m in CHAT_MODELS:
        if m.litellm == model and m.id in ids:
            return m.id
    if model.startswith("ollama/") and f"ollama:{model[7:]}" in ids:
        return f"ollama:{model[7:]}"
    models.append({"id": model, "label": model.split("/", 1)[-1], "provider": model.split("/", 1)[0],
                      "tier": "Balanced", "costLabel": "$$", "source": "configured", "available": True})
    return model

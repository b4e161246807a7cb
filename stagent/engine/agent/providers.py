"""Providers and runtimes: which model a run uses, with which key and base URL.

Key resolution order: the settings stored in the database, then environment variables.
Every runtime id runs through LiteLLM; `claude-code` and `openai-codex-app-server` are served by
LiteLLM's anthropic and openai models and say so in their capability flags (`via`).
Any other LiteLLM model string (`openrouter/...`, `gemini/...`) can be named on a task; LiteLLM
then reads that provider's key from the environment itself.

Also here, because they read the same settings: what each runtime has set up (secrets only
ever leave as hasKey / source / mask) and the connection test. The router behind
/api/runtimes/suggest is engine/routing.py; the Ollama proxy is engine/ollama.py.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from ...db import Database
from ...errors import Invalid
from ...store import settings

CAPABILITIES = ("resume", "cancel", "approvals", "mcpServers", "profileTests", "taskAssist",
                "profileAssist", "authHealthCheck")


@dataclass(frozen=True)
class Runtime:
    id: str
    label: str
    provider: str
    default_model: str
    lacks: frozenset[str] = frozenset()

    def capabilities(self) -> dict:
        caps = {c: c not in self.lacks for c in CAPABILITIES}
        caps["via"] = f"litellm:{self.provider}"
        return caps


RUNTIMES: dict[str, Runtime] = {r.id: r for r in (
    Runtime("claude-code", "Claude Code", "anthropic", "anthropic/claude-sonnet-4-5"),
    Runtime("openai-codex-app-server", "OpenAI Codex App Server", "openai", "openai/gpt-4.1",
            frozenset({"mcpServers", "profileTests", "profileAssist"})),
    Runtime("anthropic-direct", "Anthropic Direct", "anthropic", "anthropic/claude-sonnet-4-5",
            frozenset({"profileTests"})),
    Runtime("openai-direct", "OpenAI Direct", "openai", "openai/gpt-4.1",
            frozenset({"mcpServers", "profileTests", "profileAssist"})),
    Runtime("ollama", "Ollama", "ollama", "ollama/llama3",
            frozenset({"resume", "approvals", "mcpServers", "profileTests", "profileAssist"})),
)}
RUNTIME_IDS = tuple(RUNTIMES)

NO_PROVIDER = ("No LLM provider is configured. Set a key with POST /api/settings/openai "
               '{"apiKey": "sk-..."} or POST /api/settings {"apiKey": "sk-ant-..."}, or export '
               "OPENAI_API_KEY / ANTHROPIC_API_KEY before starting stagent, or name an Ollama or "
               "other LiteLLM model on the task (modelId).")


@dataclass(frozen=True)
class ModelTarget:
    model: str             # LiteLLM model string, provider-prefixed
    provider: str          # anthropic | openai | ollama | other
    runtime_id: str | None
    api_key: str | None
    api_base: str | None

    def call_kwargs(self) -> dict:
        kwargs = {"model": self.model}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.api_base:
            kwargs["api_base"] = self.api_base
        return kwargs


def mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return secret[:3] + "…" + secret[-4:] if len(secret) > 12 else "…"


async def credentials(db: Database) -> dict:
    """{provider: (key, source)} plus base URLs, resolved db > env."""
    found = await settings.resolve_many(db, ("auth.apiKey", "openai.authApiKey", "openai.baseUrl",
                                             "ollama.baseUrl", "ollama.defaultModel"))
    anthropic, openai, ollama_base = found["auth.apiKey"], found["openai.authApiKey"], found["ollama.baseUrl"]
    return {
        "anthropic": anthropic if anthropic[1] != "default" else (None, "unknown"),
        "openai": openai if openai[1] != "default" else (None, "unknown"),
        "openai_base": found["openai.baseUrl"][0] or None,
        "ollama_base": ollama_base[0],
        "ollama_set": ollama_base[1] != "default",
        "ollama_model": found["ollama.defaultModel"][0],
    }


def provider_of(model: str) -> str:
    """Which configured provider serves a LiteLLM model name ("other" when none of ours)."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in ("anthropic", "openai", "ollama", "ollama_chat"):
        return "ollama" if prefix.startswith("ollama") else prefix
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith(("gpt-", "o1", "o3", "o4")):
        return "openai"
    return "other"


async def resolve_model(db: Database, *, model_id: str | None = None,
                        runtime_id: str | None = None) -> ModelTarget:
    """Pick the model for a run, or raise Invalid with how to configure one. A catalogue id
    (`haiku`, `ollama:llama3`, as GET /api/chat/models lists them) stands for its LiteLLM string."""
    from ..chat.models import litellm_model  # chat.models reads this module's credentials

    creds = await credentials(db)
    model = model_id
    if runtime_id and runtime_id not in RUNTIMES:
        raise Invalid(f"Unknown runtime '{runtime_id}'. Use one of: {', '.join(RUNTIME_IDS)}")
    if not model and runtime_id:
        runtime = RUNTIMES[runtime_id]
        model = runtime.default_model
        if runtime.provider == "ollama" and creds["ollama_model"]:
            model = f"ollama/{creds['ollama_model']}"
    if not model:
        model = await settings.value(db, "runtime.defaultModel") or None
    if model:
        model = litellm_model(model)
    if not model:
        if creds["openai"][0]:
            model = RUNTIMES["openai-direct"].default_model
            runtime_id = runtime_id or "openai-direct"
        elif creds["anthropic"][0]:
            model = RUNTIMES["anthropic-direct"].default_model
            runtime_id = runtime_id or "anthropic-direct"
        else:
            raise Invalid(NO_PROVIDER, code="NO_PROVIDER")
    provider = provider_of(model)
    api_key = api_base = None
    if provider == "openai":
        api_key, api_base = creds["openai"][0], creds["openai_base"]
        if not api_key and not api_base:
            raise Invalid(NO_PROVIDER, code="NO_PROVIDER")
        api_key = api_key or "none"  # an OpenAI-compatible local server may need no key
    elif provider == "anthropic":
        api_key = creds["anthropic"][0]
        if not api_key:
            raise Invalid(NO_PROVIDER, code="NO_PROVIDER")
    elif provider == "ollama":
        api_base = creds["ollama_base"]
    if "/" not in model and provider in ("openai", "anthropic"):
        model = f"{provider}/{model}"
    return ModelTarget(model, provider, runtime_id, api_key, api_base)


def _is_configured(runtime: Runtime, creds: dict) -> bool:
    if runtime.provider == "ollama":
        return creds["ollama_set"]
    if creds[runtime.provider][0]:
        return True
    return runtime.provider == "openai" and bool(creds["openai_base"])


async def configured_runtimes(db: Database) -> list[str]:
    creds = await credentials(db)
    return [runtime.id for runtime in RUNTIMES.values() if _is_configured(runtime, creds)]


# ---- what is set up (GET /api/settings, /api/settings/openai, /api/settings/providers) ----------
# Secrets leave this module only as hasKey / apiKeySource / mask().

ROUTING_PREFERENCES = ("cost", "latency", "quality", "manual")
DEFAULT_RUNTIME = "claude-code"
OLLAMA_DEFAULT_BASE = "http://localhost:11434"


def _key_source(key: str | None, source: str) -> str:
    return source if key and source in ("db", "env") else "unknown"


async def anthropic_auth(db: Database) -> dict:
    """{method, hasKey, apiKeySource[, maskedKey]}; method defaults to api_key when a key exists."""
    key, source = (await credentials(db))["anthropic"]
    stored = (await settings.get_many(db, ["auth.method"]))["auth.method"]
    method = stored if stored in ("api_key", "oauth") else ("api_key" if key else "oauth")
    out = {"method": method, "hasKey": bool(key), "apiKeySource": _key_source(key, source)}
    if key:
        out["maskedKey"] = mask(key)
    return out


async def openai_auth(db: Database) -> dict:
    """{hasKey, apiKeySource, baseUrl[, maskedKey]}; a base URL alone (a local server) also counts."""
    values = await settings.resolve_many(db, ["openai.authApiKey", "openai.baseUrl"])
    key, key_source = values["openai.authApiKey"]
    base, base_source = values["openai.baseUrl"]
    source = _key_source(key, key_source) if key else _key_source(base, base_source)
    out = {"hasKey": bool(key), "apiKeySource": source, "baseUrl": base or None,
           "authMethod": "api_key" if key else "none"}
    if key:
        out["maskedKey"] = mask(key)
    return out


async def routing_preference(db: Database) -> str:
    value = await settings.value(db, "routing.preference")
    return value if value in ROUTING_PREFERENCES else "latency"


async def runtime_states(db: Database) -> dict[str, dict]:
    """RuntimeSetupState per runtime, plus the docs' {id, name, status} keys."""
    creds = await credentials(db)
    oauth_chosen = (await settings.get_many(db, ["auth.method"]))["auth.method"] == "oauth"
    states = {}
    for runtime in RUNTIMES.values():
        configured = _is_configured(runtime, creds)
        if runtime.provider == "ollama":
            method, source = "none", "unknown"
        else:
            key, key_source = creds[runtime.provider]
            source = _key_source(key, key_source)
            method = "api_key" if key else "none"
            if runtime.id == "claude-code" and oauth_chosen and not key:
                method = "oauth"  # chosen, but stagent can only run Claude with an API key
        states[runtime.id] = {
            "runtimeId": runtime.id, "label": runtime.label, "providerId": runtime.provider,
            "configured": configured, "authMethod": method, "apiKeySource": source,
            "billingMode": "subscription" if method == "oauth" else "usage",
            "id": runtime.id, "name": runtime.label, "status": "ready" if configured else "not_configured",
        }
    return states


async def provider_overview(db: Database) -> dict:
    states = await runtime_states(db)
    anthropic, openai = await anthropic_auth(db), await openai_auth(db)
    ollama = await settings.resolve_many(db, ["ollama.baseUrl", "ollama.defaultModel"])

    def group(*ids: str) -> tuple[bool, list[dict]]:
        return any(states[i]["configured"] for i in ids), [states[i] for i in ids]

    a_configured, a_runtimes = group("claude-code", "anthropic-direct")
    o_configured, o_runtimes = group("openai-codex-app-server", "openai-direct")
    l_configured, l_runtimes = group("ollama")
    return {
        "providers": {
            "anthropic": {"configured": a_configured, "authMethod": anthropic["method"],
                          "hasKey": anthropic["hasKey"], "apiKeySource": anthropic["apiKeySource"],
                          "dualBilling": anthropic["method"] == "oauth" and anthropic["hasKey"],
                          "runtimes": a_runtimes},
            "openai": {"configured": o_configured, "authMethod": openai["authMethod"],
                       "hasKey": openai["hasKey"], "apiKeySource": openai["apiKeySource"],
                       "baseUrl": openai["baseUrl"], "dualBilling": False, "runtimes": o_runtimes},
            "ollama": {"configured": l_configured, "baseUrl": ollama["ollama.baseUrl"][0] or OLLAMA_DEFAULT_BASE,
                       "defaultModel": ollama["ollama.defaultModel"][0], "runtimes": l_runtimes},
        },
        "routingPreference": await routing_preference(db),
        "configuredProviderCount": a_configured + o_configured + l_configured,
    }


# ---- connection test (POST /api/settings/test) -------------------------------------------------

CONNECTION_TIMEOUT = 15.0


_UNREACHABLE = re.compile(r"Cannot connect to host|Connect call failed|Connection refused|ConnectError|"
                          r"Name or service not known|nodename nor servname|getaddrinfo failed", re.IGNORECASE)


def _unreachable(message: str, target: ModelTarget) -> str | None:
    """A failed connection in words (the client library's text quotes objects such as
    `ssl:<ssl.SSLContext object at 0x…>`); None for any other failure."""
    if not _UNREACHABLE.search(message):
        return None
    where = f" at {target.api_base}" if target.api_base else ""
    if target.provider == "ollama":
        return (f"Could not reach Ollama{where}. Make sure it is running (`ollama serve`) and that the "
                "base URL is right.")
    return f"Could not reach the {target.provider} server{where}. Check that it is running and the base URL is right."


async def check_connection(db: Database, runtime_id: str, model_id: str | None = None) -> dict:
    """One tiny real completion through `model_id`, else the runtime's model. Never raises;
    never hangs."""
    from . import llm  # llm imports this module for ModelTarget

    runtime = RUNTIMES.get(runtime_id)
    if runtime is None:
        return {"connected": False, "runtime": runtime_id, "capabilities": {},
                "error": f"Unknown runtime '{runtime_id}'. Use one of: {', '.join(RUNTIME_IDS)}"}
    out: dict = {"runtime": runtime_id, "capabilities": runtime.capabilities()}
    if runtime.provider != "ollama":
        key, source = (await credentials(db))[runtime.provider]
        out["apiKeySource"] = _key_source(key, source)
    try:
        target = await resolve_model(db, runtime_id=runtime_id, model_id=model_id)
    except Invalid as exc:
        return {**out, "connected": False, "error": exc.message}
    out["model"] = target.model
    try:
        await llm.ensure_loaded()  # a one-off import, not part of the provider's time budget
        await asyncio.wait_for(
            llm.complete_text(target, [{"role": "user", "content": "Reply with the single word: ok"}],
                              max_tokens=1, timeout=CONNECTION_TIMEOUT),
            CONNECTION_TIMEOUT)
    except TimeoutError:
        return {**out, "connected": False,
                "error": f"{target.model} did not answer within {CONNECTION_TIMEOUT:.0f} s"}
    except Exception as exc:  # any provider, network or configuration failure is the answer
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if target.api_key and target.api_key != "none":
            message = message.replace(target.api_key, mask(target.api_key) or "…")
        return {**out, "connected": False, "error": _unreachable(message, target) or message}
    return {**out, "connected": True}

"""Providers and runtimes: which model a run uses, with which key and base URL.

Key resolution order: the settings stored in the database, then environment variables.
Every runtime id runs through LiteLLM; `claude-code` and `openai-codex-app-server` are served by
LiteLLM's anthropic and openai models and say so in their capability flags (`via`).
Any other LiteLLM model string (`openrouter/...`, `gemini/...`) can be named on a task; LiteLLM
then reads that provider's key from the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database
from ..errors import Invalid
from ..store import settings

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
    Runtime("claude-code", "Claude Code", "anthropic", "anthropic/claude-sonnet-4-20250514"),
    Runtime("openai-codex-app-server", "OpenAI Codex App Server", "openai", "openai/gpt-4.1",
            frozenset({"mcpServers", "profileTests", "profileAssist"})),
    Runtime("anthropic-direct", "Anthropic Direct", "anthropic", "anthropic/claude-sonnet-4-20250514",
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
    anthropic = await settings.resolve(db, "auth.apiKey")
    openai = await settings.resolve(db, "openai.authApiKey")
    ollama_base = await settings.resolve(db, "ollama.baseUrl")
    return {
        "anthropic": anthropic if anthropic[1] != "default" else (None, "unknown"),
        "openai": openai if openai[1] != "default" else (None, "unknown"),
        "openai_base": (await settings.resolve(db, "openai.baseUrl"))[0] or None,
        "ollama_base": ollama_base[0],
        "ollama_set": ollama_base[1] != "default",
        "ollama_model": await settings.value(db, "ollama.defaultModel"),
    }


def _provider_of(model: str) -> str:
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
    """Pick the model for a run, or raise Invalid with how to configure one."""
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
    if not model:
        if creds["openai"][0]:
            model = RUNTIMES["openai-direct"].default_model
            runtime_id = runtime_id or "openai-direct"
        elif creds["anthropic"][0]:
            model = RUNTIMES["anthropic-direct"].default_model
            runtime_id = runtime_id or "anthropic-direct"
        else:
            raise Invalid(NO_PROVIDER, code="NO_PROVIDER")
    provider = _provider_of(model)
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


async def configured_runtimes(db: Database) -> list[str]:
    creds = await credentials(db)
    out = []
    for runtime in RUNTIMES.values():
        if runtime.provider == "ollama":
            if creds["ollama_set"]:
                out.append(runtime.id)
        elif creds[runtime.provider][0] or (
                runtime.provider == "openai" and creds["openai_base"]):
            out.append(runtime.id)
    return out

"""The built-in chat models: the catalogue (GET /api/chat/models), the LiteLLM string of a UI
model id, and the display name Stan shows. Any other id is taken as a LiteLLM model string;
`ollama:<name>` is the UI's spelling of `ollama/<name>`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ...errors import Invalid
from ...store import settings
from ..agent.providers import credentials, provider_of


@dataclass(frozen=True)
class ChatModel:
    id: str          # the Stagent UI's id (catalog §2.6)
    litellm: str     # the LiteLLM model string it stands for
    label: str
    provider: str
    tier: str
    cost_label: str


CHAT_MODELS = (
    ChatModel("haiku", "anthropic/claude-haiku-4-5", "Claude Haiku", "anthropic", "Fast", "$"),
    ChatModel("sonnet", "anthropic/claude-sonnet-4-5", "Claude Sonnet", "anthropic", "Balanced", "$$"),
    ChatModel("opus", "anthropic/claude-opus-4-5", "Claude Opus", "anthropic", "Best", "$$$"),
    ChatModel("gpt-5.4-mini", "openai/gpt-5.4-mini", "GPT-5.4 Mini", "openai", "Fast", "$"),
    ChatModel("gpt-5.3-codex", "openai/gpt-5.3-codex", "GPT-5.3 Codex", "openai", "Balanced", "$$"),
    ChatModel("gpt-5.4", "openai/gpt-5.4", "GPT-5.4", "openai", "Best", "$$$"),
)
CHAT_MODEL_IDS = {m.id: m.litellm for m in CHAT_MODELS}


def litellm_model(model_id: str) -> str:
    if model_id.startswith("ollama:"):
        return "ollama/" + model_id.split(":", 1)[1]
    return CHAT_MODEL_IDS.get(model_id, model_id)


def model_name(model_id: str | None) -> str | None:
    """A display name: the built-in model's label (by UI id, LiteLLM string, or the id after
    its provider prefix), else the id without its provider prefix."""
    if not model_id:
        return None
    bare = model_id.split("/", 1)[-1]
    for model in CHAT_MODELS:
        if model_id in (model.id, model.litellm) or bare == model.id:
            return model.label
    return bare


# ---- the catalogue as served, and what a stored model id may be ---------------------------------

async def catalogue(db) -> list[dict]:
    """GET /api/chat/models: the built-in models plus the configured default and Ollama model."""
    models = [{"id": m.id, "label": m.label, "provider": m.provider, "tier": m.tier, "costLabel": m.cost_label}
              for m in CHAT_MODELS]
    found = await settings.resolve_many(db, ["runtime.defaultModel", "ollama.defaultModel"])
    default, ollama = found["runtime.defaultModel"][0], found["ollama.defaultModel"][0]
    extra = []
    if default and default not in CHAT_MODEL_IDS:
        extra.append(default)
    if ollama:
        extra.append(f"ollama:{ollama}")
    for model_id in extra:
        model = litellm_model(model_id)
        provider = model.split("/", 1)[0] if "/" in model else "other"
        models.append({"id": model_id, "label": model_id, "provider": provider, "tier": "Balanced",
                       "costLabel": "Free" if provider == "ollama" else "$$"})
    return models


# A model id is printable and has no spaces: `haiku`, `openai/gpt-4.1`, `ollama:llama3.2:8b`.
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+\-]*$"
_MODEL_SHAPE = re.compile(MODEL_ID_PATTERN[1:-1])  # fullmatch: `$` would let a final newline in
# The OpenAPI schema of a model id: a built-in catalogue id (always valid) or a model string,
# which check_model accepts when its provider is configured.
# (A model string has a `/` or `:`, or is a bare gpt-/claude- name: a pattern that also matched
# the catalogue ids would make schema-driven clients never pick them.)
MODEL_ID_SCHEMA = {"anyOf": [{"enum": [m.id for m in CHAT_MODELS]},
                             {"pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]*[/:][A-Za-z0-9_.:/@+\-]+$"},
                             {"pattern": r"^(gpt-|claude-|o[134])[A-Za-z0-9_.:/@+\-]*$"}],
                   "description": "An id GET /api/chat/models lists, or <provider>/<model> of a configured provider"}
# LiteLLM providers whose key is not `<PREFIX>_API_KEY`.
_PROVIDER_ENV = {"together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY"),
                 "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
                 "bedrock": ("AWS_ACCESS_KEY_ID",), "vertex_ai": ("GOOGLE_APPLICATION_CREDENTIALS",),
                 "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
_EXAMPLE = {"openai": "openai/gpt-4.1", "anthropic": "anthropic/claude-sonnet-4-5", "ollama": "ollama/llama3"}


async def configured_providers(db) -> list[str]:
    """The providers a model id may name: ours when set up (Ollama needs no key), and any other
    LiteLLM provider whose key is in the environment (LiteLLM reads it from there itself)."""
    creds = await credentials(db)
    found = [name for name, ready in (("openai", creds["openai"][0] or creds["openai_base"]),
                                      ("anthropic", creds["anthropic"][0])) if ready]
    return [*found, "ollama"]


def _other_provider_ready(prefix: str) -> bool:
    names = _PROVIDER_ENV.get(prefix, (f"{prefix.upper().replace('-', '_')}_API_KEY",))
    return any(os.environ.get(name) for name in names)


async def check_model(db, value: str, *, field: str = "defaultModel") -> str:
    """`value` when it names a model a run can use: an id GET /api/chat/models lists (or its
    LiteLLM string), or `<provider>/<model>` of a configured provider (a bare `gpt-…` or
    `claude-…` counts as its provider's). Otherwise Invalid, with a few valid ids as examples."""
    value = value if isinstance(value, str) else ""
    listed = [m["id"] for m in await catalogue(db)]
    if value in listed or value in CHAT_MODEL_IDS.values():  # a catalogue model by its LiteLLM name too
        return value
    providers = await configured_providers(db)
    if _MODEL_SHAPE.fullmatch(value):
        model = litellm_model(value)
        prefix, slash, name = model.partition("/")
        provider = provider_of(model)  # ours by prefix (ollama_chat/ too), or a bare gpt-…/claude-…
        if not slash:
            name = model
        if name and (provider in providers if provider != "other"
                     else bool(slash) and _other_provider_ready(prefix)):
            return value
    shown = value if len(value) <= 60 else value[:57] + "..."
    examples = ", ".join([*listed[:4], *(_EXAMPLE[p] for p in providers)])
    message = (f"{field} must be a model GET /api/chat/models lists or '<provider>/<model>' of a "
               f"configured provider ({', '.join(providers)}), e.g. {examples}; got {shown!r}")
    raise Invalid(message, field_errors={field: [message]}, form_errors=[])

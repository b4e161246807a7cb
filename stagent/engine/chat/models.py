"""The built-in chat models: the catalogue (GET /api/chat/models), the LiteLLM string of a UI
model id, and the display name Stan shows. Any other id is taken as a LiteLLM model string;
`ollama:<name>` is the UI's spelling of `ollama/<name>`."""

from __future__ import annotations

from dataclasses import dataclass


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

"""/api/runtimes: 3 endpoints (runtime suggestion, Ollama model list and pull)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from starlette.routing import Route

from ..engine.agent import ollama, providers, routing
from ..errors import Invalid
from ._http import Body, Out, endpoint, ok, read_body, validate_body


class SuggestIn(Body):
    title: str = Field(min_length=1)
    description: str | None = None
    profile_id: str | None = None


class Alternative(Out):
    runtimeId: str
    reason: str


class SuggestOut(Out):
    runtimeId: str
    reason: str
    alternatives: list[Alternative]


class OllamaActionIn(Body):
    action: Literal["pull"]
    model: str = Field(max_length=300, json_schema_extra={"pattern": r"\S"})


class OllamaTagsOut(Out):
    models: list[dict[str, Any]] = []


class OllamaPullOut(Out):
    status: Literal["ok"]
    model: str


@endpoint(body=SuggestIn, response=SuggestOut, errors=(400,))
async def suggest_runtime(request):
    """Suggest a configured runtime for a task from its text and the routing preference."""
    data = await read_body(request, not_object="title is required")
    if not isinstance(data.get("title"), str) or not data["title"]:
        raise Invalid("title is required")
    body = validate_body(SuggestIn, data)
    # profileId is accepted for the contract; profiles carry no preferred runtime here yet.
    db = request.app.state.db
    return ok(routing.suggest_runtime(body.title, body.description,
                                        await providers.configured_runtimes(db),
                                        await providers.routing_preference(db)))


@endpoint(response=OllamaTagsOut, errors=(502,))
async def list_ollama_models(request):
    """The local Ollama's models (its /api/tags, 5 s timeout); 502 with a hint when unreachable."""
    return ok(await ollama.ollama_tags(request.app.state.db))


@endpoint(body=OllamaActionIn, response=OllamaPullOut, errors=(400, 502))
async def pull_ollama_model(request):
    """Pull a model into the local Ollama and wait until it is there."""
    data = await read_body(request, not_object="Expected a JSON object")
    if data.get("action") != "pull":
        raise Invalid(f"Unknown action: {data.get('action')}")
    model = data.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 300:
        raise Invalid("model is required")
    return ok(await ollama.ollama_pull(request.app.state.db, ollama.check_name(model.strip())))


routes = [
    Route("/api/runtimes/suggest", suggest_runtime, methods=["POST"]),
    Route("/api/runtimes/ollama", list_ollama_models, methods=["GET"]),
    Route("/api/runtimes/ollama", pull_ollama_model, methods=["POST"]),
]

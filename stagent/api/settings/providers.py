"""/api/settings, /api/settings/openai, /providers and /test: the provider keys, the overview
of what each runtime has set up, and the connection test.

Provider keys have their own handlers because a secret is never echoed: only hasKey,
apiKeySource and a masked form leave.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from ...engine.agent import providers
from ...engine.chat.models import check_model
from ...errors import Invalid
from ...store import settings
from .._http import Body, Out, endpoint, ok, read_body

# JSON Schema patterns are searched (not matched), as re.search does: the same test on both sides.
URL_PATTERN = r"^https?://[^\s/?#]+(?:[/?#]\S*)?$"
URL_MESSAGE = "Must be an http(s) URL, e.g. http://localhost:11434"
RuntimeSource = Literal["db", "env", "oauth", "unknown"]
Preference = Literal["cost", "latency", "quality", "manual"]


def check_url(value: str | None) -> str | None:
    if value is not None and not re.search(URL_PATTERN, value):
        raise ValueError(URL_MESSAGE)
    return value


def _prefix(prefix: str) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is not None and not value.startswith(prefix):
            raise ValueError(f"API key must start with {prefix}")
        return value

    return check


def _require_one(*fields: str) -> ConfigDict:
    return ConfigDict(json_schema_extra={"anyOf": [{"required": [f]} for f in fields]})


# ---- Anthropic and OpenAI keys ---------------------------------------------------------------

class AnthropicAuthIn(Body):
    model_config = _require_one("method", "apiKey")
    method: Literal["api_key", "oauth"] = None
    api_key: str = Field(default=None, max_length=500, json_schema_extra={"pattern": "^sk-ant-"})

    _check_key = field_validator("api_key")(_prefix("sk-ant-"))


class AnthropicAuthOut(Out):
    method: Literal["api_key", "oauth"]
    hasKey: bool
    apiKeySource: RuntimeSource
    maskedKey: str | None = None


class OpenAIAuthIn(Body):
    """apiKey: null removes the stored key; baseUrl: null removes the stored base URL."""

    model_config = _require_one("apiKey", "baseUrl")
    api_key: str | None = Field(default=None, max_length=500, json_schema_extra={"pattern": "^sk-"})
    base_url: str | None = Field(default=None, max_length=2000, json_schema_extra={"pattern": URL_PATTERN})

    _check_key = field_validator("api_key")(_prefix("sk-"))
    _check_url = field_validator("base_url")(check_url)


class OpenAIAuthOut(Out):
    hasKey: bool
    apiKeySource: RuntimeSource
    baseUrl: str | None
    maskedKey: str | None = None


def _require_fields(body: Body, *fields: str) -> None:
    if not body.model_fields_set:
        raise Invalid("Validation failed", field_errors={},
                      form_errors=[f"Provide at least one of: {', '.join(fields)}"])


@endpoint(response=AnthropicAuthOut)
async def get_anthropic_auth(request):
    """Anthropic auth state: method, whether a key is set and where it comes from (never the key)."""
    return ok(await providers.anthropic_auth(request.app.state.db))


@endpoint(body=AnthropicAuthIn, response=AnthropicAuthOut, errors=(400,))
async def set_anthropic_auth(request):
    """Set the Anthropic key or method; an apiKey alone implies api_key, oauth deletes a stored key."""
    body = await read_body(request, AnthropicAuthIn)
    _require_fields(body, "method", "apiKey")
    method = body.method or "api_key"
    values: dict[str, str | None] = {"auth.method": method}
    if method == "oauth":
        values["auth.apiKey"] = None
    elif body.api_key is not None:
        values["auth.apiKey"] = body.api_key.strip()
    db = request.app.state.db
    await settings.set_many(db, values)
    return ok(await providers.anthropic_auth(db))


@endpoint(response=OpenAIAuthOut)
async def get_openai_auth(request):
    """OpenAI key state and base URL (never the key)."""
    return ok(_public_openai(await providers.openai_auth(request.app.state.db)))


@endpoint(body=OpenAIAuthIn, response=OpenAIAuthOut, errors=(400,))
async def set_openai_auth(request):
    """Store the OpenAI key and/or an OpenAI-compatible base URL."""
    body = await read_body(request, OpenAIAuthIn)
    _require_fields(body, "apiKey", "baseUrl")
    given = body.given()
    values: dict[str, str | None] = {}
    if "api_key" in given:
        values["openai.authApiKey"] = (given["api_key"] or "").strip() or None
    if "base_url" in given:
        values["openai.baseUrl"] = (given["base_url"] or "").strip() or None
    db = request.app.state.db
    await settings.set_many(db, values)
    return ok(_public_openai(await providers.openai_auth(db)))


def _public_openai(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "authMethod"}


# ---- provider overview and connection test ---------------------------------------------------

class RuntimeSetupOut(Out):
    runtimeId: str
    label: str
    providerId: Literal["anthropic", "openai", "ollama"]
    configured: bool
    authMethod: Literal["api_key", "oauth", "none"]
    apiKeySource: RuntimeSource
    billingMode: Literal["usage", "subscription"]
    id: str
    name: str
    status: Literal["ready", "not_configured"]


class ProviderOut(Out):
    configured: bool
    runtimes: list[RuntimeSetupOut]


class ProvidersOut(Out):
    providers: dict[str, ProviderOut]
    routingPreference: Preference
    configuredProviderCount: int


class ConnectionTestIn(Body):
    runtime: str = Field(default=providers.DEFAULT_RUNTIME, min_length=1, max_length=100)
    model: str | None = Field(default=None, max_length=200)  # extension: test this model, not the runtime's default


class ConnectionTestOut(Out):
    connected: bool
    runtime: str
    capabilities: dict[str, Any]
    apiKeySource: RuntimeSource | None = None
    model: str | None = None  # the model asked
    error: str | None = None


@endpoint(response=ProvidersOut)
async def get_providers(request):
    """Provider overview: what each runtime has set up, routing preference, configured count."""
    return ok(await providers.provider_overview(request.app.state.db))


@endpoint(body=ConnectionTestIn, response=ConnectionTestOut, errors=(400,))
async def test_connection(request):
    """Health-check a runtime with one tiny real completion; 200 whether or not it connects."""
    body = await read_body(request, ConnectionTestIn)
    db = request.app.state.db
    model = (body.model or "").strip() or None
    if model:
        model = await check_model(db, model, field="model")
    return ok(await providers.check_connection(db, body.runtime, model))

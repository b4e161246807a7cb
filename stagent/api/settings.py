"""/api/settings: provider keys, the simple key/value settings, the connection test, security.

Simple settings are data: each `Group` below is one GET and one POST/PUT served by the same two
generic handlers (read the keys, validate, write, answer). Provider keys have their own
handlers because a secret is never echoed: only hasKey, apiKeySource and a masked form leave.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from starlette.routing import Route

from ..engine.agent import providers
from ..errors import Invalid
from ..security import require_scope
from ..store import settings
from ._http import Body, Int, Out, endpoint, ok, read_body, read_json

# JSON Schema patterns are searched (not matched), as re.search does: the same test on both sides.
URL_PATTERN = r"^https?://[^\s/?#]+(?:[/?#]\S*)?$"
URL_MESSAGE = "Must be an http(s) URL, e.g. http://localhost:11434"
RuntimeSource = Literal["db", "env", "oauth", "unknown"]
Preference = Literal["cost", "latency", "quality", "manual"]


def _url(value: str | None) -> str | None:
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
    _check_url = field_validator("base_url")(_url)


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


class ConnectionTestOut(Out):
    connected: bool
    runtime: str
    capabilities: dict[str, Any]
    apiKeySource: RuntimeSource | None = None
    error: str | None = None


@endpoint(response=ProvidersOut)
async def get_providers(request):
    """Provider overview: what each runtime has set up, routing preference, configured count."""
    return ok(await providers.provider_overview(request.app.state.db))


@endpoint(body=ConnectionTestIn, response=ConnectionTestOut, errors=(400,))
async def test_connection(request):
    """Health-check a runtime with one tiny real completion; 200 whether or not it connects."""
    body = await read_body(request, ConnectionTestIn)
    return ok(await providers.check_connection(request.app.state.db, body.runtime))


# ---- the simple settings: one generic GET and POST/PUT per group -----------------------------

@dataclass(frozen=True)
class Item:
    name: str                                      # field on the wire
    key: str                                       # settings key
    message: str                                   # the 400 message when the value is invalid
    read: Callable[[str], Any] = str               # stored string -> wire value
    write: Callable[[Any], str | None] = str       # validated value -> stored string (None deletes)


@dataclass(frozen=True)
class Group:
    name: str                                      # /api/settings/<name>
    what: str                                      # for the summaries
    body: type[Body]
    out: type[Out]
    items: tuple[Item, ...]
    method: str = "POST"
    reply_ok: bool = False                         # the write answers {ok: true}, not the values
    scope: str | None = None
    on_write: Callable[[Any, dict], None] | None = None


def _int_range(low: int, high: int, pattern: str) -> Any:
    """An integer in [low, high], or the same as a decimal string (the original accepts both)."""

    def check(value: int | str) -> int:
        if isinstance(value, str):
            if not re.search(pattern, value):
                raise ValueError("out of range")
            value = int(value.strip())
        if not low <= value <= high:
            raise ValueError("out of range")
        return value

    schema = {"anyOf": [{"type": "integer", "minimum": low, "maximum": high},
                        {"type": "string", "pattern": pattern}]}
    return Annotated[Int | str, AfterValidator(check), WithJsonSchema(schema)]


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


TimeoutSeconds = _int_range(10, 300, r"^\s*(?:1[0-9]|[2-9][0-9]|[12][0-9]{2}|300)\s*$")
MaxTurns = _int_range(1, 50, r"^\s*(?:[1-9]|[1-4][0-9]|50)\s*$")


class RuntimeIn(Body):
    sdk_timeout_seconds: TimeoutSeconds = None
    max_turns: MaxTurns = None


class RuntimeOut(Out):
    sdkTimeoutSeconds: str
    maxTurns: str


class ChatIn(Body):
    default_model: str = Field(max_length=200, json_schema_extra={"pattern": r"\S"})

    @field_validator("default_model")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not re.search(r"\S", value):
            raise ValueError("blank")
        return value


class ChatOut(Out):
    defaultModel: str


class TaskModelIn(Body):
    """defaultModel "" (or null) clears it: runs then use the environment's or a provider's default."""

    default_model: str | None = Field(default=None, max_length=200)


class TaskModelOut(Out):
    defaultModel: str | None


class RoutingIn(Body):
    preference: Preference


class RoutingOut(Out):
    preference: Preference


class OllamaIn(Body):
    """baseUrl: null goes back to the default (or OLLAMA_API_BASE); defaultModel "" clears it."""

    base_url: str | None = Field(default=None, max_length=2000, json_schema_extra={"pattern": URL_PATTERN})
    default_model: str = Field(default=None, max_length=200)

    _check_url = field_validator("base_url")(_url)


class OllamaOut(Out):
    baseUrl: str
    defaultModel: str


class OkOut(Out):
    ok: bool


class SecurityIn(Body):
    require_api_key: bool


class SecurityOut(Out):
    requireApiKey: bool


def _apply_security(request, values: dict) -> None:
    request.app.state.keys.require_api_key = values["requireApiKey"]


GROUPS = (
    Group("runtime", "the SDK timeout and max turns (strings)", RuntimeIn, RuntimeOut, (
        Item("sdkTimeoutSeconds", "runtime.sdkTimeoutSeconds", "sdkTimeoutSeconds must be between 10 and 300"),
        Item("maxTurns", "runtime.maxTurns", "maxTurns must be between 1 and 50"),
    )),
    Group("chat", "the default chat model", ChatIn, ChatOut, (
        Item("defaultModel", "chat.defaultModel", "defaultModel must be a non-empty model id",
             write=str.strip),
    ), method="PUT"),
    Group("tasks", "the default model of tasks, schedules and workflow steps (extension)", TaskModelIn,
          TaskModelOut, (
        Item("defaultModel", "runtime.defaultModel", "defaultModel must be a string of at most 200 characters",
             read=lambda v: v or None, write=_text),
    ), method="PUT"),
    Group("routing", "the runtime routing preference", RoutingIn, RoutingOut, (
        Item("preference", "routing.preference", "preference must be one of: cost, latency, quality, manual",
             read=lambda v: v if v in providers.ROUTING_PREFERENCES else "latency"),
    )),
    Group("ollama", "the Ollama base URL and default model", OllamaIn, OllamaOut, (
        Item("baseUrl", "ollama.baseUrl", f"baseUrl: {URL_MESSAGE}", write=_text),
        Item("defaultModel", "ollama.defaultModel", "defaultModel must be a string of at most 200 characters",
             write=_text),
    ), reply_ok=True),
    Group("security", "whether every API request needs an API key (admin scope)", SecurityIn, SecurityOut, (
        Item("requireApiKey", "security.requireApiKey", "requireApiKey must be a boolean",
             read=lambda v: v == "true", write=lambda v: "true" if v else "false"),
    ), method="PUT", scope="admin", on_write=_apply_security),
)


async def _values(db, group: Group) -> dict:
    resolved = await settings.resolve_many(db, [item.key for item in group.items])
    return {item.name: item.read(resolved[item.key][0]) for item in group.items}


def _plain_error(exc: ValidationError, group: Group) -> Invalid:
    messages = {item.name: item.message for item in group.items}
    for err in exc.errors(include_url=False):
        if err["loc"] and err["loc"][0] in messages:
            return Invalid(messages[err["loc"][0]])
    return Invalid(f"Invalid body: {exc.errors(include_url=False)[0]['msg']}")


def _group_routes(group: Group) -> list[Route]:
    slug = group.name.replace("-", "_")
    auth_errors = (401, 403) if group.scope else ()

    async def read(request):
        if group.scope:
            require_scope(request, group.scope)
        return ok(await _values(request.app.state.db, group))

    async def write(request):
        if group.scope:
            require_scope(request, group.scope)
        data = await read_json(request)
        if not isinstance(data, dict):
            raise Invalid("Expected a JSON object")
        try:
            body = group.body.model_validate(data)
        except ValidationError as exc:
            raise _plain_error(exc, group) from None
        given = body.model_dump(by_alias=True, exclude_unset=True)
        items = {item.name: item for item in group.items}
        db = request.app.state.db
        await settings.set_many(db, {items[name].key: items[name].write(v) for name, v in given.items()})
        values = await _values(db, group)
        if group.on_write is not None:
            group.on_write(request, values)
        return ok({"ok": True} if group.reply_ok else values)

    read.__name__ = read.__qualname__ = f"get_{slug}_settings"
    read.__doc__ = f"Read {group.what}."
    write.__name__ = write.__qualname__ = f"set_{slug}_settings"
    write.__doc__ = f"Update {group.what}; only the fields sent change."
    read = endpoint(response=group.out, errors=auth_errors)(read)
    write = endpoint(body=group.body, response=OkOut if group.reply_ok else group.out,
                     errors=(400, *auth_errors))(write)
    path = f"/api/settings/{group.name}"
    return [Route(path, read, methods=["GET"]), Route(path, write, methods=[group.method])]


routes = [
    Route("/api/settings/providers", get_providers, methods=["GET"]),
    Route("/api/settings", get_anthropic_auth, methods=["GET"]),
    Route("/api/settings", set_anthropic_auth, methods=["POST"]),
    Route("/api/settings/openai", get_openai_auth, methods=["GET"]),
    Route("/api/settings/openai", set_openai_auth, methods=["POST"]),
    *(route for group in GROUPS for route in _group_routes(group)),
    Route("/api/settings/test", test_connection, methods=["POST"]),
]

"""/api/settings/<group>: the simple key/value settings, served from data.

Each `Group` below is one GET and one POST/PUT served by the same two generic handlers (read
the keys, validate, write, answer). A body the group cannot use is a 400 with the group's own
sentence for the first field that does not fit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, WithJsonSchema, field_validator
from starlette.routing import Route

from ...engine.agent import ollama, providers
from ...engine.chat.models import check_model
from ...errors import Invalid
from ...store import settings
from .._http import Body, Int, Out, endpoint, ok, read_body
from .providers import URL_MESSAGE, URL_PATTERN, Preference, check_url


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
    check: Callable[[Any, dict], Awaitable[None]] | None = None  # (db, values sent): Invalid to refuse


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


async def _check_model(db, given: dict) -> None:
    """defaultModel must be a model a run can use (engine/chat/models.py check_model); "" and
    null clear it where the group allows that."""
    value = given.get("defaultModel")
    if isinstance(value, str) and value.strip():
        await _plain(check_model(db, value.strip()))  # stored trimmed


async def _check_ollama_model(db, given: dict) -> None:
    value = (given.get("defaultModel") or "").strip()
    if value:
        ollama.check_name(value, "defaultModel")


async def _plain(check: Awaitable) -> None:
    """This surface's errors are one sentence: the check's message without the field shape."""
    try:
        await check
    except Invalid as exc:
        raise Invalid(exc.message) from None


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

    _check_url = field_validator("base_url")(check_url)


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
    ), method="PUT", check=_check_model),
    Group("tasks", "the default model of tasks, schedules and workflow steps (extension)", TaskModelIn,
          TaskModelOut, (
        Item("defaultModel", "runtime.defaultModel", "defaultModel must be a string of at most 200 characters",
             read=lambda v: v or None, write=_text),
    ), method="PUT", check=_check_model),
    Group("routing", "the runtime routing preference", RoutingIn, RoutingOut, (
        Item("preference", "routing.preference", "preference must be one of: cost, latency, quality, manual",
             read=lambda v: v if v in providers.ROUTING_PREFERENCES else "latency"),
    )),
    Group("ollama", "the Ollama base URL and default model", OllamaIn, OllamaOut, (
        Item("baseUrl", "ollama.baseUrl", f"baseUrl: {URL_MESSAGE}", write=_text),
        Item("defaultModel", "ollama.defaultModel", "defaultModel must be a string of at most 200 characters",
             write=_text),
    ), reply_ok=True, check=_check_ollama_model),
    Group("security", "whether every API request needs an API key (admin scope)", SecurityIn, SecurityOut, (
        Item("requireApiKey", "security.requireApiKey", "requireApiKey must be a boolean",
             read=lambda v: v == "true", write=lambda v: "true" if v else "false"),
    ), method="PUT", scope="admin", on_write=_apply_security),
)


async def _values(db, group: Group) -> dict:
    resolved = await settings.resolve_many(db, [item.key for item in group.items])
    return {item.name: item.read(resolved[item.key][0]) for item in group.items}


def _item_message(group: Group, exc: ValidationError) -> str:
    """The 400 sentence: the group's own message for the first field it names."""
    messages = {item.name: item.message for item in group.items}
    for err in exc.errors(include_url=False):
        if err["loc"] and err["loc"][0] in messages:
            return messages[err["loc"][0]]
    return f"Invalid body: {exc.errors(include_url=False)[0]['msg']}"


def group_routes(group: Group) -> list[Route]:
    slug = group.name.replace("-", "_")
    auth_errors = (401, 403) if group.scope else ()

    async def read(request):
        return ok(await _values(request.app.state.db, group))

    async def write(request):
        body = await read_body(request, group.body, not_object="Expected a JSON object",
                               invalid=functools.partial(_item_message, group))
        given = body.model_dump(by_alias=True, exclude_unset=True)
        items = {item.name: item for item in group.items}
        db = request.app.state.db
        if group.check is not None:
            await group.check(db, given)
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

"""HTTP helpers shared by every handler: body and query parsing, JSON, errors, OpenAPI metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response

from ..engine.agent.providers import RUNTIME_IDS
from ..errors import ApiError, Invalid
from ..sanitize import may_hold_surrogates, scrub, scrub_json

M = TypeVar("M", bound=BaseModel)


def _int_from_float(value: Any) -> Any:
    # JSON Schema calls 3.0 an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_int_from_float)]
RuntimeId = Literal[RUNTIME_IDS]  # the five runtime ids, an enum in the OpenAPI document


class Body(BaseModel):
    """Request model: camelCase on the wire, strict types, unknown keys ignored."""

    model_config = ConfigDict(strict=True, alias_generator=to_camel, populate_by_name=True,
                              extra="ignore")

    def given(self) -> dict:
        """Only the fields the client sent, snake_case."""
        return self.model_dump(exclude_unset=True)


class Out(BaseModel):
    """Response model used for the OpenAPI document; extra keys are allowed."""

    model_config = ConfigDict(extra="allow")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:  # ~10x faster than the json module on a task's body
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # a lone surrogate, an integer past 64 bits: the json module copes
            pass
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate got this far (e.g. echoed input): never a 500
            return scrub(text).encode()


def ok(data: Any, status: int = 200, headers: dict | None = None) -> JSON:
    return JSON(data, status_code=status, headers=headers)


_MESSAGES = {
    "missing": "Invalid input: expected {expected}, received undefined",
    "string_type": "Invalid input: expected string, received {got}",
    "int_type": "Invalid input: expected int, received {got}",
    "bool_type": "Invalid input: expected boolean, received {got}",
    "list_type": "Invalid input: expected array, received {got}",
    "dict_type": "Invalid input: expected object, received {got}",
    "model_type": "Invalid input: expected object, received {got}",
    "float_type": "Invalid input: expected number, received {got}",
}


def _js_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _message(err: dict) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "Required"
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(got=_js_type(err.get("input")), expected="value")
    if kind == "string_too_short":
        return f"Too small: expected string to have >={ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"Too big: expected string to have <={ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "greater_than"):
        return f"Too small: expected number to be >={ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"Too big: expected number to be <={ctx.get('le', ctx.get('lt'))}"
    if kind in ("literal_error", "enum"):
        return f"Invalid option: expected one of {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def flatten(exc: ValidationError) -> Invalid:
    """pydantic errors -> the Stagent (Zod `error.flatten()`) shape."""
    field_errors: dict[str, list[str]] = {}
    form_errors: list[str] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        message = _message(err)
        if loc:
            field_errors.setdefault(str(loc[0]), []).append(message)
        else:
            form_errors.append(message)
    return Invalid("Validation failed", field_errors=field_errors, form_errors=form_errors)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> Any:
    """JSON text as a value; an escaped lone surrogate (`"\\ud800"`) comes back as U+FFFD, since
    nothing downstream (SQLite, the responses) can encode it."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
        return scrub_json(data) if may_hold_surrogates(raw) else data
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("Malformed JSON body", field_errors={},
                      form_errors=[f"Malformed JSON body: {exc}"]) from None
    except RecursionError:  # `[[[[…` deeper than the parser's stack
        raise Invalid("Malformed JSON body", field_errors={},
                      form_errors=["Malformed JSON body: nested too deeply"]) from None


def _sentence(error: Invalid) -> Invalid:
    """A Zod-shape error as one sentence: `field: message`, else the first form error."""
    field, messages = next(iter((error.field_errors or {}).items()), (None, error.form_errors or [error.message]))
    return Invalid(f"{field}: {messages[0]}" if field else messages[0])


async def read_body(request: Request, model: type[M] | None = None, *, plain: bool = False,
                    required: bool = False, malformed: str | None = None, not_object: str | None = None,
                    invalid: str | Callable[[ValidationError], str] | None = None) -> Any:
    """The JSON object the client sent: validated into `model`, or the dict itself without one.

    Errors are the Stagent (Zod `error.flatten()`) shape, or with `plain` one sentence,
    `{"error": "field: message"}`. `malformed`, `not_object` and `invalid` (a sentence, or one
    made from the pydantic error) word that one failure instead, as a sentence. An empty body
    reads as `{}`, unless `required`: then it is malformed.
    """
    raw = await request.body()
    if raw or required:  # a body of only whitespace is malformed JSON
        try:
            data = _decode(raw)
        except Invalid as exc:
            if malformed is not None:
                raise Invalid(malformed) from None
            raise (_sentence(exc) if plain else exc) from None
    else:
        data = {}
    if model is None:
        if not isinstance(data, dict):
            raise _not_an_object(data, plain=plain, not_object=not_object)
        return data
    return validate_body(model, data, plain=plain, not_object=not_object, invalid=invalid)


def validate_body(model: type[M], data: Any, *, plain: bool = False, not_object: str | None = None,
                  invalid: str | Callable[[ValidationError], str] | None = None) -> M:
    """The second half of read_body, for a body already read (a handler that checked some
    fields of the raw dict first, with its own messages); the same options."""
    if not isinstance(data, dict):
        raise _not_an_object(data, plain=plain, not_object=not_object)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        if invalid is not None:
            raise Invalid(invalid if isinstance(invalid, str) else invalid(exc)) from None
        raise (_sentence(flatten(exc)) if plain else flatten(exc)) from None


def _not_an_object(data: Any, *, plain: bool, not_object: str | None) -> Invalid:
    if not_object is not None:
        return Invalid(not_object)
    error = Invalid("Expected a JSON object", field_errors={},
                    form_errors=[f"Invalid input: expected object, received {_js_type(data)}"])
    return _sentence(error) if plain else error


def read_query(request: Request, model: type[M]) -> M:
    data = {k: v for k, v in request.query_params.items()}
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise flatten(exc) from None


# ---- error envelopes -------------------------------------------------------------------

def stagent_error(exc: ApiError) -> dict:
    if isinstance(exc, Invalid) and exc.is_flatten:
        return {"error": {"formErrors": exc.form_errors or [], "fieldErrors": exc.field_errors or {}}}
    return {"error": exc.message, **exc.extra}


_RENDERERS: list[tuple[str, Callable[[ApiError], dict]]] = []


def register_error_renderer(prefix: str, render: Callable[[ApiError], dict]) -> None:
    """A surface (Stan, Lars) with its own documented envelope registers it for its prefix."""
    _RENDERERS.append((prefix, render))


def render_error(path: str, exc: ApiError) -> JSON:
    for prefix, render in _RENDERERS:
        if path.startswith(prefix):
            return ok(render(exc), exc.status)
    return ok(stagent_error(exc), exc.status)


# ---- OpenAPI metadata ------------------------------------------------------------------

def endpoint(*, body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: Any = None, status: int = 200, errors: tuple[int, ...] = (),
             summary: str = "", content_type: str = "application/json") -> Callable:
    """Attach request/response models to a handler so /api/openapi.json can describe it."""

    def wrap(fn: Callable) -> Callable:
        fn.__openapi__ = {"body": body, "query": query, "response": response, "status": status,
                          "errors": errors, "summary": summary or (fn.__doc__ or "").strip(),
                          "content_type": content_type}
        return fn

    return wrap

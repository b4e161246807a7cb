"""/api/settings/web-search: the catalog's Exa search toggle, plus (extension) the Exa API key and
the search API's base URL that the web_search tool uses (engine/agent/web.py).

The key is a secret: it is stored and used, never echoed; GET and POST answer hasKey,
apiKeySource and a masked form.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from ...engine.agent import web
from ...errors import Invalid
from ...store import settings
from .._http import Body, Out, endpoint, ok, read_body
from .providers import URL_PATTERN, check_url

FIELDS = ("exaSearchEnabled", "apiKey", "baseUrl")


class WebSearchIn(Body):
    """apiKey: null removes the stored key; baseUrl: null goes back to https://api.exa.ai."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": [f]} for f in FIELDS]})
    exa_search_enabled: bool = None
    api_key: str | None = Field(default=None, min_length=8, max_length=500, json_schema_extra={"pattern": r"^\S+$"})
    base_url: str | None = Field(default=None, max_length=2000, json_schema_extra={"pattern": URL_PATTERN})

    _check_url = field_validator("base_url")(check_url)

    @field_validator("api_key")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c.isspace() for c in value)):
            raise ValueError("apiKey must be the key alone, without spaces")
        return value


class WebSearchOut(Out):
    exaSearchEnabled: bool
    hasKey: bool
    apiKeySource: Literal["db", "env", "unknown"]
    baseUrl: str
    maskedKey: str | None = None


@endpoint(response=WebSearchOut)
async def get_web_search_settings(request):
    """Whether the web_search tool is on, whether an Exa key is set (never the key), the base URL."""
    return ok(await web.search_state(request.app.state.db))


@endpoint(body=WebSearchIn, response=WebSearchOut, errors=(400,))
async def set_web_search_settings(request):
    """Turn Exa search on or off, store or remove its key, set its base URL; only the fields sent change."""
    body = await read_body(request, WebSearchIn)
    given = body.given()
    if not given:
        raise Invalid("Validation failed", field_errors={},
                      form_errors=[f"Provide at least one of: {', '.join(FIELDS)}"])
    values: dict[str, str | None] = {}
    if "exa_search_enabled" in given:  # a boolean: null is refused by the model
        values["web.exaSearchEnabled"] = "true" if given["exa_search_enabled"] else "false"
    if "api_key" in given:
        values["web.exaApiKey"] = given["api_key"] or None
    if "base_url" in given:
        values["web.exaBaseUrl"] = (given["base_url"] or "").strip().rstrip("/") or None
    db = request.app.state.db
    await settings.set_many(db, values)
    return ok(await web.search_state(db))

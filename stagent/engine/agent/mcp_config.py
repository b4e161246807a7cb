"""MCP server configurations: the shape of one server entry (stdio or streamable HTTP), how a
set of entries is validated, masked for reading and merged back with the stored secrets, the
browser tools (Chrome DevTools, Playwright) as entries, and the servers a task run is offered.

Entries are the `mcpServers` object of Claude's `.mcp.json` (name -> {command, args, env} or
{type: "http", url, headers}), stored as JSON in the `mcp.servers` setting. A profile's
`mcpServers` (the profiles issue) has the same shape and goes through the same `configs_from`.

Invariants:
- a server name is letters, digits and `-`, joined by single underscores (at most 32
  characters), so `mcp__<server>__<tool>` splits back into its server unambiguously;
- env and header values (secrets, typically) never leave through `masked`; a masked value sent
  back in a PUT keeps the stored one (`merge_masks`), so a read-edit-write round trip loses
  nothing;
- a stored entry that no longer validates is skipped (logged), never offered half-read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import shutil
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from ...db import Database
from ...errors import Invalid
from ...sanitize import remember_secret
from ...store import settings

log = logging.getLogger("stagent.mcp")

SERVERS_KEY = "mcp.servers"
MASK = "********"
MAX_SERVERS = 50
NAME_PATTERN = r"^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$"
DEFAULT_TIMEOUT = 60.0          # seconds a tool call may take
DEFAULT_STARTUP_TIMEOUT = 60.0  # seconds a server may take to start and answer `initialize`
NPX_STARTUP_TIMEOUT = 180.0     # npx may download the package first

# `mcp__stagent__<tool>` already names stagent's own tools in permission patterns (decision 010).
RESERVED_NAMES = frozenset({"stagent"})

ServerName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NAME_PATTERN)]
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9-]+$")]
Value = Annotated[str, StringConstraints(max_length=8000)]


class ServerSpec(BaseModel):
    """One server entry as the API and the settings hold it (camelCase on the wire)."""

    model_config = ConfigDict(strict=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")

    type: Literal["stdio", "http"] | None = None  # default: http when `url` is given, else stdio
    command: str | None = Field(default=None, min_length=1, max_length=1000)
    args: list[Annotated[str, StringConstraints(max_length=4000)]] = Field(default_factory=list, max_length=100)
    env: dict[EnvName, Value] = Field(default_factory=dict, max_length=100)
    cwd: str | None = Field(default=None, min_length=1, max_length=1000)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s/]+\S*$")
    headers: dict[HeaderName, Value] = Field(default_factory=dict, max_length=100)
    enabled: bool = True
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=3600)
    startup_timeout_seconds: float = Field(default=DEFAULT_STARTUP_TIMEOUT, gt=0, le=3600)
    source: str | None = Field(default=None, max_length=50)  # read back from GET; informational

    @model_validator(mode="after")
    def _transport_fields(self) -> ServerSpec:
        if self.type is None and self.command and self.url:
            raise ValueError("give a command (a stdio server) or a url (an http server), not both")
        transport = self.type or ("http" if self.url else "stdio")
        if transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs a command")
        if transport == "stdio" and self.url:
            raise ValueError("a stdio server takes a command, not a url")
        if transport == "http" and not self.url:
            raise ValueError("an http server needs a url")
        if transport == "http" and self.command:
            raise ValueError("an http server takes a url, not a command")
        self.type = transport
        return self

    def stored(self) -> dict:
        """The entry as it is kept in the settings (no `source`, no defaults spelled out)."""
        return self.model_dump(by_alias=True, exclude_defaults=True, exclude={"source"}) | {"type": self.type}


@dataclass(frozen=True)
class ServerConfig:
    """One server a run may use. `source`: settings, browser-tools (later: profile:<id>)."""

    name: str
    transport: str  # stdio | http
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    source: str = "settings"

    @property
    def fingerprint(self) -> str:
        """Identifies the process or connection: any change to the entry is another server."""
        text = json.dumps([self.name, self.transport, self.command, self.args, self.env, self.cwd, self.url,
                           self.headers, self.timeout, self.startup_timeout, self.source])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_config(name: str, spec: ServerSpec, source: str) -> ServerConfig:
    for value in (*spec.env.values(), *spec.headers.values()):
        remember_secret(value)  # redacted wherever it might be echoed (a server's error text)
    return ServerConfig(name=name, transport=spec.type or "stdio", command=spec.command, args=tuple(spec.args),
                        env=tuple(sorted(spec.env.items())), cwd=spec.cwd, url=spec.url,
                        headers=tuple(sorted(spec.headers.items())), timeout=spec.timeout_seconds,
                        startup_timeout=spec.startup_timeout_seconds, source=source)


def configs_from(entries: dict, source: str) -> list[ServerConfig]:
    """The enabled, valid servers of a stored `mcpServers` object; invalid ones are skipped."""
    found = []
    for name, raw in (entries if isinstance(entries, dict) else {}).items():
        try:
            if not isinstance(name, str) or not _valid_name(name):
                raise ValueError(f"invalid server name {name!r}")
            spec = ServerSpec.model_validate(raw)
        except (ValidationError, ValueError) as exc:
            log.warning("MCP server %r (%s) is not valid and is skipped: %s", name, source, exc)
            continue
        if spec.enabled:
            found.append(to_config(name, spec, source))
    return found


def _valid_name(name: str) -> bool:
    return len(name) <= 32 and re.fullmatch(NAME_PATTERN, name) is not None and name not in RESERVED_NAMES


class ServerSpecs(BaseModel):
    """The body of PUT /api/settings/mcp-servers: every server, replacing the stored set."""

    model_config = ConfigDict(strict=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")

    mcp_servers: dict[ServerName, ServerSpec] = Field(max_length=MAX_SERVERS)


def parse_specs(data: dict) -> dict[str, ServerSpec]:
    """A PUT body's servers, validated; Invalid names the server and field of each problem."""
    try:
        specs = ServerSpecs.model_validate(data).mcp_servers
    except ValidationError as exc:
        messages = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"][1:] if not str(part).startswith("function-"))
            text = str((error.get("ctx") or {}).get("error", error["msg"])) if error["type"] == "value_error" \
                else error["msg"]
            messages.append(f"{where}: {text}" if where else text)
        raise Invalid("Validation failed", field_errors={"mcpServers": messages}, form_errors=[]) from None
    reserved = sorted(set(specs) & RESERVED_NAMES)
    if reserved:
        raise Invalid("Validation failed", form_errors=[], field_errors={"mcpServers": [
            f"{name}: the name is reserved; mcp__{name}__<tool> names stagent's own tools" for name in reserved]})
    return specs


def masked(entry: dict) -> dict:
    """A stored entry as GET shows it: every env and header value replaced by MASK."""
    out = dict(entry)
    for field in ("env", "headers"):
        if isinstance(out.get(field), dict):
            out[field] = {key: MASK if value else value for key, value in out[field].items()}
    return out


def merge_masks(specs: dict[str, ServerSpec], stored: dict) -> dict[str, dict]:
    """The entries to store: a value sent back as MASK keeps the stored value of the same
    server and key; a MASK with nothing stored behind it is refused (400)."""
    result, problems = {}, []
    for name, spec in specs.items():
        entry = spec.stored()
        before = stored.get(name) if isinstance(stored.get(name), dict) else {}
        for field in ("env", "headers"):
            values = dict(entry.get(field) or {})
            for key, value in values.items():
                if value == MASK:
                    kept = (before.get(field) or {}).get(key) if isinstance(before.get(field), dict) else None
                    if not kept:
                        problems.append(f"{name}.{field}.{key}: send the value; {MASK} stands for a stored one "
                                        "and none is stored")
                    values[key] = kept
            if values:
                entry[field] = values
        result[name] = entry
    if problems:
        raise Invalid("Validation failed", field_errors={"mcpServers": problems}, form_errors=[])
    return result


# ---- the settings ------------------------------------------------------------------------------

async def stored_servers(db: Database) -> dict:
    """The `mcpServers` object of the settings (as stored: real values), {} when unset or unreadable."""
    text = (await settings.get_many(db, [SERVERS_KEY]))[SERVERS_KEY]
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        log.warning("the %s setting is not JSON; no MCP servers are configured", SERVERS_KEY)
        return {}
    return value if isinstance(value, dict) else {}


async def save_servers(db: Database, entries: dict) -> None:
    await settings.set_many(db, {SERVERS_KEY: json.dumps(entries, ensure_ascii=False)})


async def global_servers(db: Database) -> list[ServerConfig]:
    """Every server a run is offered from the settings: the configured ones, then the enabled
    browser tools (a configured server of the same name wins)."""
    configs = configs_from(await stored_servers(db), "settings")
    names = {c.name for c in configs}
    state = await browser_state(db)
    for tool in BROWSER_TOOLS:
        if state[tool.enabled_field] and tool.name not in names:
            configs.extend(configs_from({tool.name: tool.entry(state[tool.config_field])}, "browser-tools"))
    return configs


# ---- browser tools -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BrowserTool:
    key: str              # chromeDevtools | playwright
    name: str             # the MCP server's name (its tools are mcp__<name>__*)
    package: str          # the published npm package npx runs
    base_args: tuple[str, ...]
    executable_flag: str  # how the server is told which browser binary to drive

    @property
    def enabled_field(self) -> str:
        return f"{self.key}Enabled"

    @property
    def config_field(self) -> str:
        return f"{self.key}Config"

    def entry(self, config: str, chromium: str | None = None) -> dict:
        """The server entry: by default `npx -y <package>` headless, driving Debian's Chromium
        when it is installed. A config starting with `-` adds arguments to that command; any
        other non-empty config is the whole command line instead."""
        words = shlex.split(config or "")
        if words and not words[0].startswith("-"):
            return {"type": "stdio", "command": words[0], "args": words[1:]}
        chromium = chromium if chromium is not None else find_chromium()
        args = ["-y", self.package, *self.base_args]
        if chromium:
            args += [self.executable_flag, chromium]
        return {"type": "stdio", "command": "npx", "args": args + words,
                "startupTimeoutSeconds": NPX_STARTUP_TIMEOUT}


BROWSER_TOOLS = (
    BrowserTool("chromeDevtools", "chrome-devtools", "chrome-devtools-mcp@latest", ("--headless", "--isolated"),
                "--executablePath"),
    BrowserTool("playwright", "playwright", "@playwright/mcp@latest", ("--headless",), "--executable-path"),
)
BROWSER_NAMES = frozenset(t.name for t in BROWSER_TOOLS)


def find_chromium() -> str | None:
    """Debian's Chromium (`apt-get install chromium`), if this machine has it."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browser_key(field: str) -> str:
    return f"browserTools.{field}"


async def browser_state(db: Database) -> dict:
    """{chromeDevtoolsEnabled, playwrightEnabled, chromeDevtoolsConfig, playwrightConfig}."""
    fields = [f for t in BROWSER_TOOLS for f in (t.enabled_field, t.config_field)]
    stored = await settings.get_many(db, [_browser_key(f) for f in fields])
    state = {}
    for tool in BROWSER_TOOLS:
        state[tool.enabled_field] = stored[_browser_key(tool.enabled_field)] == "true"
        state[tool.config_field] = stored[_browser_key(tool.config_field)] or ""
    return state


def check_browser_config(field: str, value: str) -> str:
    """A browser tool's config as stored (stripped); Invalid when it is not a command line."""
    try:
        shlex.split(value)
    except ValueError as exc:
        raise Invalid("Validation failed", field_errors={field: [f"not a command line: {exc}"]},
                      form_errors=[]) from None
    return value.strip()


async def save_browser_state(db: Database, values: dict) -> None:
    """Store the given fields (enabled: bool, config: str) of the browser tools."""
    await settings.set_many(db, {
        _browser_key(field): ("true" if value else "false") if isinstance(value, bool) else value
        for field, value in values.items()})

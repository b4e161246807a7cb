"""/api/settings/mcp-servers (extension) and /api/settings/browser-tools: the MCP servers task
runs are offered (engine/agent/mcp_config.py has the shapes, mcp_client.py runs them).

Env and header values are masked on every read; a PUT may send a masked value back to keep it.
A write stops the servers whose configuration changed; they start again on their next use.
"""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...engine.agent import mcp_config
from ...errors import Invalid
from .._http import Body, Out, endpoint, ok, read_body


def _state(request):
    return request.app.state


async def _servers_view(db) -> dict:
    """Every server entry, masked, each with its `source`: the settings' own, then the enabled
    browser tools (which /api/settings/browser-tools manages)."""
    stored = await mcp_config.stored_servers(db)
    view = {name: {**mcp_config.masked(entry), "source": "settings"}
            for name, entry in stored.items() if isinstance(entry, dict)}
    state = await mcp_config.browser_state(db)
    for tool in mcp_config.BROWSER_TOOLS:
        if state[tool.enabled_field] and tool.name not in view:
            view[tool.name] = {**tool.entry(state[tool.config_field]), "source": "browser-tools"}
    return {"mcpServers": view}


class McpServersIn(mcp_config.ServerSpecs):
    """Every server (replacing the stored set): name -> {command, args, env, cwd} for a stdio
    server, {type: "http", url, headers} for a streamable HTTP one; enabled, timeoutSeconds and
    startupTimeoutSeconds for both. Entries whose source is browser-tools are ignored."""


class McpServersOut(Out):
    mcpServers: dict[str, dict]


@endpoint(response=McpServersOut, summary="The MCP servers task runs are offered; env and header values masked "
                                          "(extension)")
async def get_mcp_servers(request):
    return ok(await _servers_view(_state(request).db))


@endpoint(body=McpServersIn, response=McpServersOut, errors=(400,),
          summary="Replace the MCP servers; a masked value sent back keeps the stored one (extension)")
async def put_mcp_servers(request):
    data = await read_body(request)
    specs = mcp_config.parse_specs(data)
    specs = {name: spec for name, spec in specs.items() if spec.source != "browser-tools"}
    reserved = sorted(set(specs) & mcp_config.BROWSER_NAMES)
    if reserved:
        raise Invalid("Validation failed", form_errors=[], field_errors={"mcpServers": [
            f"{name}: the name is the browser tool's; turn it on and configure it through "
            "/api/settings/browser-tools" for name in reserved]})
    db = _state(request).db
    entries = mcp_config.merge_masks(specs, await mcp_config.stored_servers(db))
    await mcp_config.save_servers(db, entries)
    await _state(request).mcp_clients.reload()
    return ok(await _servers_view(db))


# ---- browser tools ---------------------------------------------------------------------------

Config = Field(default=None, max_length=2000)


class BrowserToolsIn(Body):
    """Any of the four fields. A config is the command line that runs the server ("" is the
    default: npx of the published server, headless, driving Debian's Chromium when installed);
    a config starting with `-` adds arguments to that default command."""

    chrome_devtools_enabled: bool = None
    playwright_enabled: bool = None
    chrome_devtools_config: str = Config
    playwright_config: str = Config


class BrowserToolsOut(Out):
    chromeDevtoolsEnabled: bool
    playwrightEnabled: bool
    chromeDevtoolsConfig: str
    playwrightConfig: str


@endpoint(response=BrowserToolsOut, summary="The browser MCP toggles (Chrome DevTools, Playwright) and configs")
async def get_browser_tools(request):
    return ok(await mcp_config.browser_state(_state(request).db))


@endpoint(body=BrowserToolsIn, response=BrowserToolsOut, errors=(400,),
          summary="Set them (partial); an enabled one is an MCP server entry named chrome-devtools or playwright")
async def set_browser_tools(request):
    body = await read_body(request, BrowserToolsIn)
    values = {}
    for field, value in body.model_dump(by_alias=True, exclude_unset=True).items():
        values[field] = mcp_config.check_browser_config(field, value) if isinstance(value, str) else value
    db = _state(request).db
    if values:
        await mcp_config.save_browser_state(db, values)
        await _state(request).mcp_clients.reload()
    return ok(await mcp_config.browser_state(db))


routes = [
    Route("/api/settings/mcp-servers", get_mcp_servers, methods=["GET"]),
    Route("/api/settings/mcp-servers", put_mcp_servers, methods=["PUT"]),
    Route("/api/settings/browser-tools", get_browser_tools, methods=["GET"]),
    Route("/api/settings/browser-tools", set_browser_tools, methods=["POST"]),
]

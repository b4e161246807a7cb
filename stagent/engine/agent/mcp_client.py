"""MCP clients: one long-lived session per configured MCP server, whose tools agent runs are
offered as `mcp__<server>__<tool>` (configurations: mcp_config.py).

Owns `McpClients`: per server (keyed by its configuration's fingerprint) a session task under
the Supervisor, which enters the SDK's transport (stdio subprocess or streamable HTTP) and
`ClientSession` context managers and exits them in that same task, as anyio requires; a lock per
server around starting and restarting it; the tool list cached per session; calls with a
timeout. The mcp SDK is imported on first use, so the daemon starts without it.

Invariants:
- a server starts on first use (the first run that is offered its tools), later runs reuse
  it, and it stops at shutdown or when its configuration is replaced (`reload`);
- a broken session (the process died, the connection closed) is restarted, and the call that
  found it broken retried, once;
- nothing a server does (fail to start, crash, hang, answer garbage) raises out of here: a
  listing says why (`on_error`) and offers what the server listed last time (nothing, if it
  never started), a call returns `error: ...` for the model; neither the run nor the daemon
  fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...db import Database
from ...sanitize import redact
from ..supervisor import Supervisor
from . import mcp_config
from .mcp_config import ServerConfig
from .tools import Tool, ToolSet

log = logging.getLogger("stagent.mcp")

PREFIX = "mcp__"
MAX_RESULT_CHARS = 64 * 1024
MAX_DESCRIPTION = 1024
MAX_PAGES = 20  # of a tools/list answer
LIST_TIMEOUT = 30.0  # seconds tools/list may take at least (however short the calls' timeout)
STOP_GRACE = 5.0  # seconds a session gets to close (stdin closed, then terminate, then kill)


def tool_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>`, within the providers' 64-character [A-Za-z0-9_-] limit."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", tool) or "tool"
    name = f"{PREFIX}{server}__{clean}"
    if len(name) > 64:
        name = name[:57] + "_" + hashlib.sha256(tool.encode()).hexdigest()[:6]
    return name


class McpUnavailable(Exception):
    """The server could not be started or reached; the message says why."""


class _Server:
    """One configured server: its live session (if any) and what it cost to get there."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = asyncio.Lock()
        self.session: Any = None           # mcp.ClientSession while the session task holds it open
        self.task: asyncio.Task | None = None
        self.stop: asyncio.Event | None = None
        self.tools: list | None = None     # the session's list_tools, cached until it restarts
        self.known_tools: list = []        # the last list any session gave (offered while it is down)
        self.starts = 0

    def alive(self) -> bool:
        return self.session is not None and self.task is not None and not self.task.done()


class McpClients:
    def __init__(self, db: Database, supervisor: Supervisor, *, log_dir: Path | None = None) -> None:
        self.db = db
        self.supervisor = supervisor
        self.log_dir = log_dir  # each stdio server's stderr goes to <log_dir>/<name>.log
        self._servers: dict[str, _Server] = {}
        self._stopped = False

    # ---- what runs are offered ----------------------------------------------------------------

    async def servers_for(self, task: dict | None = None) -> list[ServerConfig]:
        """The servers a task run is offered: the global settings (and browser tools). A
        profile's `mcpServers` (the runner passes them as `profileMcpServers`) are added, overriding a global
        server of the same name (its fingerprint differs, so it gets its own session)."""
        servers = await mcp_config.global_servers(self.db)
        own = mcp_config.configs_from((task or {}).get("profileMcpServers") or {}, "profile")
        names = {c.name for c in own}
        return [*(c for c in servers if c.name not in names), *own]

    async def task_tools(self, base: ToolSet, task: dict, allowed: frozenset[str] | None,
                         log_line: Callable[[str, dict], None] | None = None) -> ToolSet:
        """`base` plus the MCP tools of the task's servers (only those in `allowed`, when the
        task has a fixed tool set). For a server that cannot list its tools now, the run's log
        says why (`mcp_unavailable`)."""
        if allowed is not None and not any(name.startswith(PREFIX) for name in allowed):
            return base  # a built-in action's fixed set: nothing to start
        configs = await self.servers_for(task)
        if not configs:
            return base

        def on_error(server: str, message: str) -> None:
            if log_line is not None:
                log_line("mcp_unavailable", {"server": server, "message": message})

        extra = [t for t in await self.tools(configs, on_error=on_error) if allowed is None or t.name in allowed]
        return ToolSet(base.name, [*base, *(t for t in extra if t.name not in base)]) if extra else base

    async def tools(self, configs: list[ServerConfig], *,
                    on_error: Callable[[str, str], None] | None = None) -> list[Tool]:
        """The agent tools of these servers, each started if it is not running (concurrently)."""
        listed = await asyncio.gather(*(self._tools_of(c) for c in configs))
        found: list[Tool] = []
        for config, (tools, error) in zip(configs, listed, strict=True):
            if error is not None:
                log.warning("MCP server %s: %s", config.name, error)
                if on_error is not None:
                    on_error(config.name, error)
            found.extend(tools)
        return found

    async def _tools_of(self, config: ServerConfig) -> tuple[list[Tool], str | None]:
        """The server's tools and None, or, when it cannot list them now, the tools its last
        session listed (their calls then answer `error: ...`) and why."""
        server = self._server(config)
        error = "could not list its tools"
        for attempt in (1, 2):
            session = None
            try:
                session = await self._session(server)
                async with server.lock:
                    if server.tools is None or server.session is not session:
                        server.tools = server.known_tools = await asyncio.wait_for(
                            _list_tools(session), timeout=max(config.timeout, LIST_TIMEOUT))
                    return self._agent_tools(config, server.tools), None
            except asyncio.CancelledError:
                raise
            except McpUnavailable as exc:
                error = str(exc)
                break
            except Exception as exc:  # the server answered nonsense, or broke while listing
                if attempt == 1 and _broken(exc):
                    await self._retire(server, session)
                    continue
                error = f"could not list its tools: {_describe(exc)}"
                break
        return self._agent_tools(config, server.known_tools), error

    def _agent_tools(self, config: ServerConfig, listed: list) -> list[Tool]:
        tools: dict[str, Tool] = {}
        for mcp_tool in listed:
            name = tool_name(config.name, mcp_tool.name)
            if name in tools:
                continue
            schema = dict(mcp_tool.input_schema or {})
            schema["type"] = "object"
            schema.setdefault("properties", {})
            description = (mcp_tool.description or f"The {mcp_tool.name} tool of the {config.name} MCP server.")

            async def run(ctx: Any, args: dict, _tool: str = mcp_tool.name) -> str:
                return await self.call(config, _tool, args)

            tools[name] = Tool(name, description[:MAX_DESCRIPTION], schema, run)
        return list(tools.values())

    # ---- calls -------------------------------------------------------------------------------

    async def call(self, config: ServerConfig, tool: str, args: dict) -> str:
        """Call one tool; whatever goes wrong comes back as `error: ...` for the model."""
        server = self._server(config)
        for attempt in (1, 2):
            session = None
            try:
                session = await self._session(server)
                result = await session.call_tool(tool, args, read_timeout_seconds=config.timeout)
            except asyncio.CancelledError:
                raise
            except McpUnavailable as exc:
                return f"error: MCP server '{config.name}' is unavailable: {exc}"
            except Exception as exc:
                if _timed_out(exc):
                    return f"error: MCP server '{config.name}' did not answer {tool} within {config.timeout:g} s"
                if attempt == 1 and _broken(exc):
                    log.warning("MCP server %s: the session broke (%s); restarting it", config.name, _describe(exc))
                    await self._retire(server, session)
                    continue
                return f"error: MCP server '{config.name}' failed on {tool}: {_describe(exc)}"
            return render_result(result)
        return f"error: MCP server '{config.name}' failed on {tool}"

    # ---- sessions ----------------------------------------------------------------------------

    def _server(self, config: ServerConfig) -> _Server:
        server = self._servers.get(config.fingerprint)
        if server is None:
            server = self._servers[config.fingerprint] = _Server(config)
        return server

    async def _session(self, server: _Server):
        async with server.lock:
            if not server.alive():
                await self._start(server)
            return server.session

    async def _start(self, server: _Server) -> None:
        """Start the session task and wait until its session is initialised (lock held)."""
        if self._stopped:
            raise McpUnavailable("the daemon is stopping")
        config = server.config
        await self._end_task(server)
        server.starts += 1
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        name = f"mcp:{config.name}:{config.fingerprint[:8]}:{server.starts}"
        task = self.supervisor.start(name, self._hold(config, ready, stop))
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), timeout=config.startup_timeout)
        except TimeoutError:
            stop.set()
            await self.supervisor.cancel(name, timeout=STOP_GRACE)
            raise McpUnavailable(f"it did not start within {config.startup_timeout:g} s{self._see_log(config)}") \
                from None
        except asyncio.CancelledError:
            stop.set()
            task.cancel()
            raise
        except Exception as exc:
            raise McpUnavailable(f"{_describe(exc)}{self._see_log(config)}") from None
        server.session, server.task, server.stop, server.tools = session, task, stop, None
        log.info("MCP server %s started (%s)", config.name, config.transport)

    async def _hold(self, config: ServerConfig, ready: asyncio.Future, stop: asyncio.Event) -> None:
        """The session task: opens the transport and the session, hands the session over, and
        holds both open until told to stop (or the connection fails); closes them here."""
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._transport(config, stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                if ready.done():  # the starter gave up waiting
                    return
                ready.set_result(session)
                await stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        except BaseException as exc:  # noqa: BLE001 - reported to the starter or logged, never raised
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            elif not stop.is_set():
                log.warning("MCP server %s: session ended: %s", config.name, _describe(exc))

    async def _transport(self, config: ServerConfig, stack: contextlib.AsyncExitStack):
        if config.transport == "http":
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(create_mcp_http_client(headers=dict(config.headers) or None))
            return await stack.enter_async_context(streamable_http_client(config.url, http_client=http))
        from mcp.client.stdio import StdioServerParameters, stdio_client

        errlog = stack.enter_context(self._errlog(config))
        params = StdioServerParameters(command=config.command, args=list(config.args), env=dict(config.env) or None,
                                       cwd=config.cwd)
        return await stack.enter_async_context(stdio_client(params, errlog=errlog))

    def _errlog(self, config: ServerConfig):
        if self.log_dir is None:
            return open("/dev/null", "w")  # noqa: SIM115 - closed by the session's exit stack
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{config.name}.log", "a")  # noqa: SIM115

    def _see_log(self, config: ServerConfig) -> str:
        if config.transport != "stdio" or self.log_dir is None:
            return ""
        return f" (its stderr is in {self.log_dir / (config.name + '.log')})"

    async def _retire(self, server: _Server, session) -> None:
        """Close a broken session so the next use starts a new one (unless another caller
        already replaced it)."""
        async with server.lock:
            if server.session is session:
                await self._end_task(server)

    async def _end_task(self, server: _Server) -> None:
        task, stop = server.task, server.stop
        server.session = server.task = server.stop = server.tools = None
        if task is None or task.done():
            return
        stop.set()
        await asyncio.wait({task}, timeout=STOP_GRACE)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_GRACE)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def reload(self) -> None:
        """The settings changed: stop every server whose configuration is no longer among the
        global ones (a profile's server starts again on its next use)."""
        keep = {c.fingerprint for c in await mcp_config.global_servers(self.db)}
        for fingerprint in [f for f in self._servers if f not in keep]:
            server = self._servers.pop(fingerprint)
            async with server.lock:
                await self._end_task(server)

    async def stop(self) -> None:
        """Shutdown: every session closes (a stdio server's stdin is closed, then it is ended)."""
        self._stopped = True
        servers = list(self._servers.values())
        self._servers.clear()
        await asyncio.gather(*(self._end_task(s) for s in servers), return_exceptions=True)


async def _list_tools(session) -> list:
    """Every tool the server lists, page by page."""
    from mcp_types import PaginatedRequestParams

    listing = await session.list_tools()
    tools = list(listing.tools)
    for _ in range(MAX_PAGES):
        if not listing.next_cursor:
            break
        listing = await session.list_tools(params=PaginatedRequestParams(cursor=listing.next_cursor))
        tools.extend(listing.tools)
    return tools


def render_result(result: Any) -> str:
    """A CallToolResult as the text the model reads; a tool's own failure is `error: ...`."""
    parts = []
    for block in result.content or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {getattr(block, 'mime_type', '?')}]")
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource: {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource: {block.uri}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n…(cut at {MAX_RESULT_CHARS} characters)"
    return f"error: {text or 'the tool failed'}" if result.is_error else text


def _describe(exc: BaseException) -> str:
    """One line about a failure; an exception group is described by its first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        text = f"command not found: {exc.filename or text}"
    return redact(text)[:500]


def _leaves(exc: BaseException):
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _broken(exc: BaseException) -> bool:
    """Whether the failure means the session is gone (so a new one may do better)."""
    import anyio
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST

    for leaf in _leaves(exc):
        if isinstance(leaf, TimeoutError):  # an OSError, but a slow server is not a gone one
            continue
        if isinstance(leaf, MCPError):
            # An HTTP server that restarted no longer knows the session: "Session not found".
            if leaf.error.code == CONNECTION_CLOSED or (
                    leaf.error.code == INVALID_REQUEST and "session" in leaf.error.message.lower()):
                return True
        elif isinstance(leaf, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream,
                               OSError, EOFError)) or type(leaf).__module__.startswith(("httpx", "httpcore")):
            return True
    return False


def _timed_out(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp_types import REQUEST_TIMEOUT

    return isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.error.code == REQUEST_TIMEOUT)

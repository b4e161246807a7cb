"""/mcp: stagent as an MCP server over streamable HTTP (stateless, JSON answers), for MCP
clients that speak HTTP (Claude Code, Cursor). Needs a key with the `mcp` scope (or the UI
session), always, as the route table says.

The tools are cli/mcp_tools.py's, the same `stagent mcp` serves over stdio; here they call the
daemon's own REST API in process (an httpx ASGI transport into this app, nothing on the network)
with an in-memory credential that carries `stagent:read` and `stagent:write`: what the `mcp`
scope stands for. The SDK (slow to import) loads on the first request, and its session manager
then runs as the supervised job `mcp-http` until shutdown.
"""

from __future__ import annotations

import asyncio

from starlette.routing import Route

from ..security import Principal, hash_secret, new_secret

SCOPES = frozenset({"stagent:read", "stagent:write"})  # what a tool call may do through the REST API


class McpEndpoint:
    """The SDK's session manager of this app, started on first use."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._manager = None

    async def manager(self, app):
        async with self._lock:
            if self._manager is None:
                self._manager = await self._start(app)
            return self._manager

    async def _start(self, app):
        import httpx
        from mcp.server.transport_security import TransportSecuritySettings

        from ..cli.mcp_tools import AsyncHttpApi, build_server

        secret = new_secret()  # never leaves this process: the tools' key to the REST API
        app.state.keys.by_hash[hash_secret(secret)] = Principal("mcp-endpoint", "internal", SCOPES)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                 headers={"X-API-Key": secret}, timeout=60)
        server = build_server(AsyncHttpApi(http))
        # The Host and Origin checks and the body limit are the daemon's own (SecurityMiddleware).
        server.streamable_http_app(stateless_http=True, json_response=True,
                                   transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        manager = server.session_manager
        running: asyncio.Future = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                async with manager.run():
                    running.set_result(None)
                    await asyncio.Event().wait()  # until shutdown cancels it
            except BaseException as exc:
                if not running.done():
                    running.set_exception(RuntimeError(f"the MCP endpoint did not start: {exc!r}"))
                raise
            finally:
                await http.aclose()

        app.state.supervisor.start("mcp-http", run())
        await running
        return manager


class _Delegate:
    """The response of /mcp: the SDK's transport answers the request itself."""

    def __init__(self, manager) -> None:
        self.manager = manager

    async def __call__(self, scope, receive, send) -> None:
        await self.manager.handle_request(scope, receive, send)


async def mcp_endpoint(request):
    """MCP over streamable HTTP: JSON-RPC in a POST, the answer as JSON. Stateless, so there is
    no server stream to GET and no session to DELETE: both answer 405, as the spec allows."""
    state = request.app.state
    endpoint = getattr(state, "mcp_endpoint", None)
    if endpoint is None:
        endpoint = state.mcp_endpoint = McpEndpoint()
    return _Delegate(await endpoint.manager(request.app))


routes = [Route("/mcp", mcp_endpoint, methods=["POST"])]

"""Every route against every scope: the one table in stagent/api/_scopes.py, over real HTTP.

A key is created per scope through the real keys API; each route is called with harmless input
(ids that do not exist, a body that is not an object), so an allowed call answers 2xx/400/404
and a refused one 401/403 in its surface's envelope, naming the scope it lacks. Then the same
without a key: the local user, the daemon requiring keys, and a peer on another machine (an
ASGI scope whose client is 10.1.2.3; nothing is sent to a non-loopback address).
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from starlette.routing import Route

from stagent import api
from stagent.api._scopes import KEYLESS, ROUTE_ACCESS, guard_routes, route_keys
from stagent.security import ALL_SCOPES, Access
from tests.conftest import Daemon

ROUTES = [key for route in api.routes for key in route_keys(route)]
REMOTE_PEER = ("10.1.2.3", 1234)
# Routes whose harmless call needs more than a made-up id and a non-object body.
PROBES = {
    "POST /api/channels/inbound/slack": {"params": {"configId": "nope"}},
    "POST /api/channels/inbound/telegram": {"params": {"configId": "nope", "secret": "nope"}},
    "POST /api/channels/inbound/telegram/poll": {"params": {"configId": "nope"},
                                                 "headers": {"x-stagent-internal": "poll"}},
}


def probe(client: httpx.Client | None, route: str, headers: dict, *, asgi=None) -> httpx.Response:
    """Call the route harmlessly; an endless SSE answer is closed once its status is in."""
    method, template = route.split(" ", 1)
    path = re.sub(r"{(\w+)}", lambda m: f"no-such-{m[1].lower()}", template)
    extra = PROBES.get(route, {})
    headers = {**headers, **extra.get("headers", {})}
    kwargs = {"params": extra.get("params"), "headers": headers}
    if method not in ("GET", "HEAD"):
        kwargs["content"] = b"[]"
        kwargs["headers"] = {**headers, "content-type": "application/json"}
    if asgi is not None:
        return asgi(method, path, **kwargs)
    with client.stream(method, path, **kwargs) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response


def allowed(response: httpx.Response) -> bool:
    assert response.status_code != 500, response.text
    return response.status_code not in (401, 403)


def assert_refused(response: httpx.Response, route: str, status: int, needle: str) -> None:
    """Refused with `status` in the route's own envelope, naming what is missing."""
    assert response.status_code == status, (route, response.status_code, response.text)
    body = response.json()
    path = route.split(" ", 1)[1]
    code = "INSUFFICIENT_SCOPE" if status == 403 else "UNAUTHORIZED"
    if path.startswith("/api/ai-agent/"):
        assert body["success"] is False and body["code"] == code and body["timestamp"]
    elif path.startswith("/api/v1/stan/"):
        assert body["code"] == code
    else:
        assert set(body) == {"error"}
    assert needle in body["error"], (route, body)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("scopes") / "data")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def credentials(daemon) -> dict[str, dict]:
    """Headers per caller: a key per scope, the UI session, and nothing (the local user)."""
    admin = {"X-API-Key": daemon.api_key}
    found = {}
    for scope in ALL_SCOPES:
        created = daemon.client.post("/api/keys", json={"name": scope, "scopes": [scope]}, headers=admin)
        assert created.status_code == 201
        found[scope] = {"X-API-Key": created.json()["key"]}
    session = httpx.get(daemon.url + "/").cookies["stagent_session"]  # not into daemon.client's jar
    found["session"] = {"Cookie": f"stagent_session={session}"}
    found["no key"] = {}
    return found


# ---- the table -----------------------------------------------------------------------------

def test_every_route_has_exactly_one_entry():
    assert len(ROUTES) == len(set(ROUTES)), "one Route per method and path"
    assert set(ROUTES) - set(ROUTE_ACCESS) == set(), "routes without an entry"
    assert set(ROUTE_ACCESS) - set(ROUTES) == set(), "entries without a route"
    assert all(access.scope in (None, *ALL_SCOPES) for access in ROUTE_ACCESS.values())


# Settings that hold a secret or say where one is sent, and the tool allow-list: admin.
ADMIN_SETTINGS = ("/api/settings", "/api/settings/openai", "/api/settings/ollama", "/api/settings/providers",
                  "/api/settings/test", "/api/settings/web-search")


def test_the_surfaces_keep_their_documented_scopes():
    for route, access in ROUTE_ACCESS.items():
        method, path = route.split(" ", 1)
        if path.startswith("/api/v1/stan/"):
            assert access == Access("stan:execute", local=False), route
        elif path.startswith("/api/ai-agent/"):
            assert access.scope in ("ai-agent:chat", "ai-agent:actions", "admin") and not access.local, route
        elif path == "/mcp":  # stagent's own MCP server: its clients always send a key
            assert access == Access("mcp", local=False), route
        elif path.startswith(("/api/keys", "/api/settings/security")):
            assert access == Access("admin", local=False), route
        elif path.startswith("/api/permissions") or path in ADMIN_SETTINGS:
            assert access == Access("admin"), route
        elif access != KEYLESS:
            assert access.local, route
            assert access.scope in ("stagent:read", "stagent:write", "admin"), route
            assert method != "GET" or access.scope != "stagent:write", route


def test_a_route_without_an_entry_is_refused_when_the_routes_are_built():
    async def new_thing(request):
        return None

    with pytest.raises(LookupError, match="POST /api/new-thing: no entry"):
        guard_routes([Route("/api/new-thing", new_thing, methods=["POST"])])


# ---- every route x every caller ------------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES)
def test_each_route_admits_exactly_its_scope(daemon, credentials, route):
    access = ROUTE_ACCESS[route]
    for caller, headers in credentials.items():
        response = probe(daemon.client, route, headers)
        if caller == "session" or access.scope is None:
            expected = True
        elif caller == "no key":
            expected = access.local
        else:
            expected = caller == access.scope
        assert allowed(response) == expected, (route, caller, response.status_code, response.text)
        if not expected and caller == "no key":
            assert_refused(response, route, 401, "API key")
        elif not expected:
            assert_refused(response, route, 403, f"'{access.scope}'")


def test_a_key_with_several_scopes_gets_each_of_them(daemon):
    admin = {"X-API-Key": daemon.api_key}
    both = daemon.client.post("/api/keys", json={"name": "rw", "scopes": ["stagent:read", "stagent:write"]},
                              headers=admin).json()
    headers = {"X-API-Key": both["key"]}
    created = daemon.client.post("/api/projects", json={"name": "scoped"}, headers=headers)
    assert created.status_code == 201
    assert daemon.client.get(f"/api/projects/{created.json()['id']}", headers=headers).status_code == 200
    assert daemon.client.delete(f"/api/projects/{created.json()['id']}", headers=headers).status_code == 200
    refused = daemon.client.post("/api/permissions", json={"pattern": "Bash(*)"}, headers=headers)
    assert_refused(refused, "POST /api/permissions", 403, "'admin'")


def test_a_read_key_cannot_redirect_the_provider_key(daemon, credentials):
    reader = credentials["stagent:read"]
    for path in ("/api/settings/openai", "/api/settings/ollama"):
        refused = daemon.client.post(path, json={"baseUrl": "http://127.0.0.1:9/v1"}, headers=reader)
        assert_refused(refused, f"POST {path}", 403, "'admin'")
        assert "127.0.0.1:9" not in daemon.client.get(path).text


# ---- without a key: requireApiKey, and a peer on another machine ------------------------------

@pytest.mark.parametrize("route", ROUTES)
def test_with_keys_required_only_keyless_routes_answer_without_one(daemon, credentials, route):
    keys = daemon.app.state.keys
    keys.require_api_key = True  # what PUT /api/settings/security does, without the round trip
    try:
        response = probe(daemon.client, route, {})
        if ROUTE_ACCESS[route] == KEYLESS:
            assert allowed(response), (route, response.text)
        else:
            assert_refused(response, route, 401, "API key")
        assert allowed(probe(daemon.client, route, credentials["session"]))
    finally:
        keys.require_api_key = False


def remote_call(daemon, headers: dict | None = None):
    """Send requests through the app's ASGI interface with a non-loopback peer address, on the
    daemon's own loop (its database lives there)."""

    def call(method, path, **kwargs):
        async def send():
            transport = httpx.ASGITransport(app=daemon.app, client=REMOTE_PEER)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run_coroutine_threadsafe(send(), daemon.loop).result(timeout=60)

    return call


@pytest.mark.parametrize("route", [r for r in ROUTES if "/stream" not in r])
def test_a_remote_peer_without_a_key_is_refused_whatever_its_host(daemon, credentials, route):
    response = probe(None, route, {"Host": "localhost"}, asgi=remote_call(daemon))
    if ROUTE_ACCESS[route] == KEYLESS:
        assert allowed(response), (route, response.text)
    else:  # a route that needs a key anyway says so; the others say why this caller needs one
        assert_refused(response, route, 401, "another machine" if ROUTE_ACCESS[route].local else "API key")
    scope = ROUTE_ACCESS[route].scope
    if scope is not None:
        with_key = probe(None, route, credentials[scope], asgi=remote_call(daemon))
        assert allowed(with_key), (route, with_key.text)


def test_a_remote_peer_gets_no_session_and_no_route_list(daemon):
    call = remote_call(daemon)
    page = call("GET", "/")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert call("GET", "/api/no-such-route").status_code == 401
    assert call("GET", "/api/health").status_code == 200
    mapped = httpx.ASGITransport(app=daemon.app, client=("::ffff:127.0.0.1", 1234))  # still this machine

    async def local_over_ipv6():
        async with httpx.AsyncClient(transport=mapped, base_url="http://localhost") as client:
            return await client.get("/api/tasks")

    assert asyncio.run_coroutine_threadsafe(local_over_ipv6(), daemon.loop).result(timeout=60).status_code == 200

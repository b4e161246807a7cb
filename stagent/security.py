"""Request guard (Host, Origin, body size, credentials) and API-key primitives.

The guard is pure ASGI so it costs one dict lookup per request on the happy path:
- a malformed Host header (userinfo, junk, two of them) gets 400, one outside the allowed
  names 403 (DNS rebinding);
- a state-changing request from another origin (Origin, or Sec-Fetch-Site) gets 403 (CSRF from
  web pages), and the UI session cookie counts only on same-origin requests;
- a body over the limit gets 413;
- an `X-API-Key` header or the UI session cookie is resolved to a Principal (a wrong key: 401).
What each route then needs (a scope, or a key at all) is decided by `authorize`, called for every
route from the one table in stagent/api/_scopes.py.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie

from .errors import ApiError, Forbidden, PayloadTooLarge, Unauthorized

ALL_SCOPES = (
    "admin",            # manage API keys and security settings
    "stagent:read",
    "stagent:write",
    "stan:execute",
    "ai-agent:chat",
    "ai-agent:actions",
    "mcp",              # stagent's own MCP server at /mcp (create, run and follow tasks; answer approvals)
)
SESSION_COOKIE = "stagent_session"
KEY_PREFIX = "stg_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POST /api/uploads takes files up to 50 MB and answers its own documented 400 past that
# (stagent/api/uploads.py); its body may run to this size, every other body to max_body_bytes.
UPLOAD_PATH = "/api/uploads"
UPLOAD_BODY_LIMIT = 51 * 1024 * 1024


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    key_id: str
    kind: str  # "key" | "session"
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes


class KeyCache:
    """Active key hashes held in memory; the store keeps it in step on create/revoke.

    `require_api_key` is the `security.requireApiKey` setting, or always true when the daemon
    listens beyond loopback (`always_require_key`): then no setting can turn it off."""

    def __init__(self, *, always_require_key: bool = False) -> None:
        self.by_hash: dict[str, Principal] = {}
        self.used: set[str] = set()  # key ids used since the last flush of last_used_at
        self.always_require_key = always_require_key
        self.required_by_setting = False

    @property
    def require_api_key(self) -> bool:
        return self.always_require_key or self.required_by_setting

    @require_api_key.setter
    def require_api_key(self, value: bool) -> None:
        self.required_by_setting = bool(value)

    def lookup(self, secret: str) -> Principal | None:
        principal = self.by_hash.get(hash_secret(secret))
        if principal is not None:
            self.used.add(principal.key_id)
        return principal


KEY_REQUIRED = ("An API key is required: send it in the X-API-Key header "
                "(the daemon wrote one to <data dir>/api-key).")


def principal_of(request) -> Principal | None:
    return request.scope.get("stagent.principal")


def require_scope(request, scope: str) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized(KEY_REQUIRED)
    if not principal.has(scope):
        raise Forbidden(f"This API key lacks the '{scope}' scope.", code="INSUFFICIENT_SCOPE")
    return principal


@dataclass(frozen=True)
class Access:
    """What one route needs; stagent/api/_scopes.py gives one to every route."""

    scope: str | None  # None: no key at all (the route checks its own credential, or is public)
    local: bool = True  # without a key, the local user passes (loopback peer, requireApiKey off)


def authorize(request, access: Access) -> None:
    """Refuse the request unless its credentials satisfy `access`: 401 without a usable key,
    403 (INSUFFICIENT_SCOPE, naming the scope) with a key that lacks it. The session cookie
    carries every scope."""
    if access.scope is None:
        return
    if principal_of(request) is None and access.local:
        refusal = keyless_refusal(request)
        if refusal is not None:
            raise Unauthorized(refusal)
        return
    require_scope(request, access.scope)


def keyless_refusal(request) -> str | None:
    """Why a request without a key is not the local user, or None when it is: the daemon
    requires keys, or the peer is another machine (whatever its Host header says)."""
    if request.app.state.keys.require_api_key:
        return "This daemon requires an API key (X-API-Key header)."
    if not is_loopback_peer(request.scope):
        return "Requests from another machine need an API key (X-API-Key header)."
    return None


def is_loopback_peer(scope) -> bool:
    """Whether the TCP peer is this machine. A peer that is not an IP address has no socket
    (an in-process caller: TestClient, an ASGI transport) and counts as local; uvicorn always
    gives the peer's address for a TCP connection."""
    client = scope.get("client")
    return True if not client else _is_loopback_address(client[0])


@functools.lru_cache(maxsize=256)  # a handful of peers, each seen on every request
def _is_loopback_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return (mapped or address).is_loopback


# host = a DNS name or IPv4 address (letters, digits, '-', '.'), or an IPv6 address in brackets;
# then an optional :port. Anything else (userinfo `a@b`, spaces, a path, a second colon) is refused.
_AUTHORITY = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?))"
                        r"(?::(?P<port>[0-9]{1,5}))?")


@functools.lru_cache(maxsize=256)  # the same few Host and Origin values on every request
def parse_authority(value: str) -> tuple[str, str] | None:
    """A Host header or an origin's host[:port] as (name, port), no port meaning 80; None when
    it is not a well-formed authority."""
    match = _AUTHORITY.fullmatch(value.strip().lower())
    if match is None:
        return None
    name, port = match["ipv6"] or match["name"], match["port"] or "80"
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
    if int(port) > 65535:
        return None
    return name.rstrip("."), port


def same_origin(origin: str, host: str) -> bool:
    """The daemon serves plain http, so its own origin is exactly http://<the Host it was sent to>.
    Another port on localhost is another origin (another local web app), and `null` is none."""
    if not origin.lower().startswith("http://"):
        return False
    theirs, ours = parse_authority(origin[len("http://"):]), parse_authority(host)
    return theirs is not None and theirs == ours


# Fetch metadata of a request that a page of another origin made; same-site includes other ports.
CROSS_SITE_FETCH = frozenset({"cross-site", "same-site"})


class SecurityMiddleware:
    def __init__(self, app, *, allowed_hosts: set[str], max_body_bytes: int, keys: KeyCache):
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.max_body_bytes = max_body_bytes
        self.keys = keys

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        hosts = 0
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            hosts += key == "host"
            headers.setdefault(key, value.decode("latin-1"))  # the first, as Starlette reads them
        if hosts > 1:
            return await _reject(send, scope, 400, "More than one Host header.")
        host = headers.get("host", "")
        authority = parse_authority(host) if host else None
        if host and authority is None:
            return await _reject(send, scope, 400, f"Malformed Host header '{host[:200]}'.")
        if authority is None or authority[0] not in self.allowed_hosts:
            return await _reject(send, scope, 403, f"Host '{host[:200]}' is not served here; use http://127.0.0.1 or localhost.")
        origin = headers.get("origin")
        cross_origin = ((origin is not None and not same_origin(origin, host))
                        or headers.get("sec-fetch-site") in CROSS_SITE_FETCH)
        if cross_origin and scope["method"] not in SAFE_METHODS:
            return await _reject(send, scope, 403, "Cross-origin requests are not allowed.")
        length = headers.get("content-length")
        upload = scope["path"] == UPLOAD_PATH and scope["method"] == "POST"
        limit = max(UPLOAD_BODY_LIMIT, self.max_body_bytes) if upload else self.max_body_bytes
        if length is not None:
            if not length.isdigit():
                return await _reject(send, scope, 400, "Invalid Content-Length header.")
            if int(length) > limit and not upload:  # the upload route refuses its own, with its 400
                return await _reject(send, scope, 413, f"Request body exceeds {self.max_body_bytes} bytes.")

        principal = None
        api_key = headers.get("x-api-key")
        if api_key is not None:
            principal = self.keys.lookup(api_key)
            if principal is None:
                return await _reject(send, scope, 401, "Invalid or revoked API key.")
        elif "cookie" in headers and not cross_origin:  # the UI session counts on same-origin requests only
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:
                cookie = SimpleCookie()
            if SESSION_COOKIE in cookie:
                principal = self.keys.lookup(cookie[SESSION_COOKIE].value)
        scope["stagent.principal"] = principal
        return await self.app(scope, _limited(receive, limit), send)


def _limited(receive, limit: int):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        return message

    return wrapped


async def _reject(send, scope, status: int, message: str) -> None:
    from .api._http import render_error  # the surface's own envelope (Stan, Lars) applies here too

    code = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 413: "PAYLOAD_TOO_LARGE"}[status]
    body = render_error(scope["path"], ApiError(message, status=status, code=code)).body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

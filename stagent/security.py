"""Request guard (Host, Origin, body size, credentials) and API-key primitives.

The guard is pure ASGI so it costs one dict lookup per request on the happy path:
- a Host header outside the allowed names gets 403 (DNS rebinding);
- a state-changing request from another origin (Origin, or Sec-Fetch-Site) gets 403 (CSRF from
  web pages), and the UI session cookie counts only on same-origin requests;
- a body over the limit gets 413;
- an `X-API-Key` header or the UI session cookie is resolved to a Principal.
Scopes are checked by the handlers that document them (require_scope).
"""

from __future__ import annotations

import hashlib
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
)
SESSION_COOKIE = "stagent_session"
KEY_PREFIX = "stg_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    """Active key hashes held in memory; the store keeps it in step on create/revoke."""

    def __init__(self) -> None:
        self.by_hash: dict[str, Principal] = {}
        self.used: set[str] = set()  # key ids used since the last flush of last_used_at
        self.require_api_key = False

    def lookup(self, secret: str) -> Principal | None:
        principal = self.by_hash.get(hash_secret(secret))
        if principal is not None:
            self.used.add(principal.key_id)
        return principal


def principal_of(request) -> Principal | None:
    return request.scope.get("stagent.principal")


def require_scope(request, scope: str) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("An API key is required: send it in the X-API-Key header "
                           "(the daemon wrote one to <data dir>/api-key).")
    if not principal.has(scope):
        raise Forbidden(f"This API key lacks the '{scope}' scope.", code="INSUFFICIENT_SCOPE")
    return principal


def _authority(value: str) -> tuple[str, str]:
    """A Host header or an origin's host[:port] as (name, port); no port means 80."""
    value = value.strip().lower()
    if value.startswith("[") and "]" in value:
        name, rest = value[1:value.find("]")], value[value.find("]") + 1:]
        port = rest[1:] if rest.startswith(":") else rest
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name, port = value, ""
    return name, port or "80"


def same_origin(origin: str, host: str) -> bool:
    """The daemon serves plain http, so its own origin is exactly http://<the Host it was sent to>.
    Another port on localhost is another origin (another local web app), and `null` is none."""
    if not origin.lower().startswith("http://"):
        return False
    authority = origin[len("http://"):]
    return "/" not in authority and _authority(authority) == _authority(host)


# Fetch metadata of a request that a page of another origin made; same-site includes other ports.
CROSS_SITE_FETCH = frozenset({"cross-site", "same-site"})


# Reachable without a key even when keys are required: liveness, the inbound channel webhooks,
# which Slack and Telegram call with their own signature or secret instead, and a webhook
# channel's signed decision callback, /api/channels/<id>/callback.
KEYLESS_PATHS = frozenset({"/api/health", "/api/channels/inbound/slack", "/api/channels/inbound/telegram"})
_CALLBACK_PREFIX, _CALLBACK_SUFFIX = "/api/channels/", "/callback"
# A workflow's webhook trigger, POST /api/workflows/hooks/<token>: the token is the credential.
# Only that: other methods, and paths below it, reach workflow routes (/api/workflows/{id}/…
# with the id "hooks") and need a key as usual.
_WORKFLOW_HOOK_PREFIX = "/api/workflows/hooks/"


def keyless(path: str, method: str) -> bool:
    if path in KEYLESS_PATHS:
        return True
    if path.startswith(_WORKFLOW_HOOK_PREFIX):
        token = path[len(_WORKFLOW_HOOK_PREFIX):]
        return method == "POST" and bool(token) and "/" not in token
    if not (path.startswith(_CALLBACK_PREFIX) and path.endswith(_CALLBACK_SUFFIX)):
        return False
    channel_id = path[len(_CALLBACK_PREFIX):-len(_CALLBACK_SUFFIX)]
    return bool(channel_id) and "/" not in channel_id


class SecurityMiddleware:
    def __init__(self, app, *, allowed_hosts: set[str], max_body_bytes: int, keys: KeyCache):
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.max_body_bytes = max_body_bytes
        self.keys = keys

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for name, value in scope["headers"]:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        host = headers.get("host", "")
        if _authority(host)[0] not in self.allowed_hosts:
            return await _reject(send, scope, 403, f"Host '{host}' is not served here; use http://127.0.0.1 or localhost.")
        origin = headers.get("origin")
        cross_origin = ((origin is not None and not same_origin(origin, host))
                        or headers.get("sec-fetch-site") in CROSS_SITE_FETCH)
        if cross_origin and scope["method"] not in SAFE_METHODS:
            return await _reject(send, scope, 403, "Cross-origin requests are not allowed.")
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return await _reject(send, scope, 400, "Invalid Content-Length header.")
            if int(length) > self.max_body_bytes:
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
        path = scope["path"]
        if (principal is None and self.keys.require_api_key and path.startswith("/api/")
                and not keyless(path, scope["method"])):
            return await _reject(send, scope, 401, "This daemon requires an API key (X-API-Key header).")
        scope["stagent.principal"] = principal
        return await self.app(scope, _limited(receive, self.max_body_bytes), send)


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

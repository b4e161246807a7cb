"""create_app(config): middleware, routes, error rendering, the web UI, lifespan wiring; and
preflight(config), the check `stagent serve` runs before it starts the server."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api
from .api._http import render_error
from .api._router import DomainRouter
from .config import Config
from .errors import ApiError, Unauthorized
from .lifespan import lifespan
from .preflight import preflight
from .security import (
    SESSION_COOKIE,
    KeyCache,
    SecurityMiddleware,
    is_loopback_peer,
    keyless_refusal,
    principal_of,
)
from .store import keys as key_store

__all__ = ["create_app", "preflight"]

log = logging.getLogger("stagent")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def api_error(request, exc: ApiError):
    return render_error(request.url.path, exc)


async def http_error(request, exc: HTTPException):
    if exc.status_code in (404, 405) and request.url.path.startswith("/api/") and principal_of(request) is None:
        refusal = keyless_refusal(request)  # a caller without a key learns nothing of the routes
        if refusal is not None:
            return render_error(request.url.path, Unauthorized(refusal))
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
    response = render_error(request.url.path, ApiError(message, status=exc.status_code,
                                                       code="NOT_FOUND" if exc.status_code == 404 else "HTTP_ERROR"))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:
        # Starlette names only the first Route matching the path; one path has a Route per method.
        path = request.scope["path"]
        methods = {m for route in request.app.routes
                   if isinstance(route, Route) and route.path_regex.match(path) for m in route.methods or ()}
        if methods:
            response.headers["Allow"] = ", ".join(sorted(methods))
    return response


async def server_error(request, exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return render_error(request.url.path, ApiError("Internal server error; see the daemon log."))


class UiFiles(StaticFiles):
    """web/static, revalidated on every load (a 304 on loopback): after an upgrade the browser
    never runs yesterday's modules against today's API, and there is no build step to hash names."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


# The page loads only its own modules, styles and API; nothing may frame it (clickjacking).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
PAGE_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY,
                "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}
# Fetch metadata of a navigation the user made (typed, bookmarked, reloaded) or one from the
# page itself; absent for clients that are not browsers.
OWN_NAVIGATION = frozenset({None, "none", "same-origin"})


def _may_mint_session(request) -> bool:
    """A session carries every scope, so it is given only to a browser on this machine that
    opened the page itself: not to another site's link or iframe (each of which would mint one
    and could push the user's own session out of the 50 kept), nor to another machine."""
    return (request.headers.get("sec-fetch-site") in OWN_NAVIGATION
            and is_loopback_peer(request.scope))


async def index(request):
    """The UI shell; sets the session cookie that lets the page call the API (SSE included)."""
    response = FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)
    principal = principal_of(request)
    if (principal is None or principal.kind != "session") and _may_mint_session(request):
        secret = await key_store.create_session(request.app.state.db, request.app.state.keys)
        response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", path="/")
    return response


def create_app(config: Config | None = None) -> Starlette:
    config = config or Config.from_env()
    keys = KeyCache(always_require_key=not config.loopback_only)
    routes = [*api.routes, Route("/", index, methods=["GET"])]
    if (WEB_DIR / "static").is_dir():
        routes.append(Mount("/static", UiFiles(directory=WEB_DIR / "static"), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, allowed_hosts=config.allowed_hosts,
                               max_body_bytes=config.max_body_bytes, keys=keys)],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.router = DomainRouter.replacing(app.router)
    app.state.config = config
    app.state.keys = keys
    return app

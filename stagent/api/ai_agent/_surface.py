"""What every /api/ai-agent/* route shares: the Lars envelope, the scopes, the workspace header
and the rate limit (`lars_endpoint`).

Every request needs `X-API-Key` (scope per route) and `X-Workspace-Id` (a project id or
`default`). Successes are `{"success": true, "data": …}`; every failure on this prefix, the
request guard's included, is `{"success": false, "error", "code", "timestamp"}`. Requests that
reach a workspace are counted per (workspace, bucket) and carry X-RateLimit-* headers, errors
included. docs/decisions/015-lars.md.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime

from starlette.requests import Request

from ...errors import ApiError, Invalid, RateLimited
from .._http import ok, register_error_renderer, render_error

log = logging.getLogger("stagent.lars")

PREFIX = "/api/ai-agent/"
CHAT_SCOPE, ACTIONS_SCOPE, APPROVE_SCOPE = "ai-agent:chat", "ai-agent:actions", "admin"
WORKSPACE_HEADER = "X-Workspace-Id"
ERRORS = (400, 401, 403, 404, 429)


def lars_error(exc: ApiError) -> dict:
    code = "METHOD_NOT_ALLOWED" if exc.status == 405 else exc.code.upper()  # one spelling: UPPER_SNAKE
    message = exc.message
    details = None
    if isinstance(exc, Invalid) and exc.is_flatten:
        details = dict(exc.field_errors or {})
        if exc.form_errors:
            details["_"] = exc.form_errors
        first = next((f"{field}: {msgs[0]}" for field, msgs in (exc.field_errors or {}).items() if msgs),
                     (exc.form_errors or [exc.message])[0])
        message = f"Request validation failed: {first}"
    body = {**exc.extra, "success": False, "error": message, "code": code,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if details is not None:
        body["details"] = details
    return body


register_error_renderer(PREFIX, lars_error)


def success(data, status: int = 200):
    return ok({"success": True, "data": data}, status)


def workspace_header(request: Request) -> str:
    value = (request.headers.get(WORKSPACE_HEADER) or "").strip()
    if not value:
        raise Invalid(f"The {WORKSPACE_HEADER} header is required: a project id or 'default'",
                      field_errors={WORKSPACE_HEADER: ["Required: a project id or 'default'"]})
    if len(value) > 200:
        raise Invalid(f"The {WORKSPACE_HEADER} header is too long",
                      field_errors={WORKSPACE_HEADER: ["Too big: expected string to have <=200 characters"]})
    return value


def lars_endpoint(bucket: str):
    """Workspace, then the rate limit (the scope is checked before, by api/_scopes.py); the handler gets (request, workspace) and its
    errors are rendered here, so they carry the rate-limit headers too (a bug's 500 included)."""

    def wrap(fn):
        @functools.wraps(fn)
        async def handler(request: Request):
            lars = request.app.state.lars
            workspace = await lars.workspace(workspace_header(request))
            decision = lars.rate_limits.hit(workspace.id, bucket)
            if not decision.allowed:
                response = render_error(request.url.path, RateLimited(
                    f"Rate limit exceeded: {decision.limit} {bucket} requests per minute for this workspace; "
                    f"retry in {decision.retry_after} s"))
            else:
                try:
                    response = await fn(request, workspace)
                except ApiError as exc:
                    response = render_error(request.url.path, exc)
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    response = render_error(request.url.path,
                                            ApiError("Internal server error; see the daemon log."))
            response.headers.update(decision.headers())
            return response

        return handler

    return wrap

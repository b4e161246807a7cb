"""Typed errors raised by engine and store code without knowing HTTP.

Each API surface renders them in its own documented envelope (see stagent/api/_http.py).
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}


class Invalid(ApiError):
    """400. `field_errors`/`form_errors` carry the Zod-flatten shape when validation failed."""

    status = 400
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None,
                 form_errors: list[str] | None = None, **kw):
        super().__init__(message, **kw)
        self.field_errors = field_errors
        self.form_errors = form_errors

    @property
    def is_flatten(self) -> bool:
        return self.field_errors is not None or self.form_errors is not None


class Unauthorized(ApiError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(ApiError):
    status = 403
    code = "FORBIDDEN"


class NotFound(ApiError):
    status = 404
    code = "NOT_FOUND"

    def __init__(self, message: str = "Not found", **kw):
        super().__init__(message, **kw)


class Conflict(ApiError):
    status = 409
    code = "CONFLICT"


class PayloadTooLarge(ApiError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(ApiError):
    status = 429
    code = "RATE_LIMIT_EXCEEDED"


class UpstreamError(ApiError):
    """502: a service the user configured (Ollama, a provider) failed."""

    status = 502
    code = "UPSTREAM_ERROR"

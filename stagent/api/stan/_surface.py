"""What every /api/v1/stan/* route shares: the error envelope and the scope check.

The Stan documents give no error body; see docs/decisions/005-stan-errors.md.
"""

from __future__ import annotations

from ...errors import ApiError, Invalid
from .._http import register_error_renderer

PREFIX = "/api/v1/stan/"
SCOPE = "stan:execute"


def stan_error(exc: ApiError) -> dict:
    body = {"error": exc.message, "code": exc.code, **exc.extra}
    if isinstance(exc, Invalid) and exc.is_flatten:
        details = dict(exc.field_errors or {})
        if exc.form_errors:
            details["_"] = exc.form_errors
        body["details"] = details
        first = next((f"{field}: {msgs[0]}" for field, msgs in (exc.field_errors or {}).items() if msgs),
                     (exc.form_errors or [exc.message])[0])
        body["error"] = f"Invalid request: {first}"
    return body


register_error_renderer(PREFIX, stan_error)

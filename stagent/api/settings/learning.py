"""/api/settings/learning: the learned-context size limit (and, an extension, whether finished
tasks reflect into memory and context proposals)."""

from __future__ import annotations

from starlette.routing import Route

from ...engine.learning import context as learning
from ...errors import Invalid
from .._http import endpoint, ok, read_body


@endpoint()
async def get_learning(request):
    """{contextCharLimit: "8000", enabled}."""
    return ok(await learning.settings(request.app.state.db))


@endpoint(errors=(400,))
async def set_learning(request):
    """contextCharLimit 2000-32000, a multiple of 1000; enabled? (boolean)."""
    data = await read_body(request, plain=True)
    limit = None
    if "contextCharLimit" in data or "enabled" not in data:
        limit = learning.check_limit(data.get("contextCharLimit"))
    on = data.get("enabled")
    if on is not None and not isinstance(on, bool):
        raise Invalid("enabled must be a boolean")
    saved = await learning.save_settings(request.app.state.db, limit, on)
    return ok({**saved, "contextCharLimit": saved["contextCharLimit"]})


routes = [
    Route("/api/settings/learning", get_learning, methods=["GET"]),
    Route("/api/settings/learning", set_learning, methods=["POST"]),
]

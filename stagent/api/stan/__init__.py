"""/api/v1/stan: the Stan surface (its error envelope, scope stan:execute)."""

from . import (
    _surface,  # noqa: F401  (registers the Stan error envelope)
    heartbeat,
    sessions,
    settings,
    tasks,
)

routes = [
    *sessions.routes,
    *settings.routes,
    *tasks.routes,
    *heartbeat.routes,
]

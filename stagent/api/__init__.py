"""The whole URL surface, one list per domain, in the order of the seed documents."""

from . import (
    _stan,  # noqa: F401  (registers the Stan error envelope)
    health,
    keys,
    logs,
    projects,
    runtimes,
    settings,
    tasks,
)

routes = [
    *health.routes,
    *keys.routes,
    # Stagent API domains
    *tasks.routes,
    *projects.routes,
    *settings.routes,
    *runtimes.routes,
    *logs.routes,
]

"""The whole URL surface, one list per domain, in the order of the seed documents."""

from . import health, keys, logs, projects, runtimes, settings, tasks

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

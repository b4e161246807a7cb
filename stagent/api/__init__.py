"""The whole URL surface, one list per domain, in the order of the seed documents."""

from . import (
    _stan,  # noqa: F401  (registers the Stan error envelope)
    budgets,
    channels,
    chat,
    health,
    keys,
    logs,
    notifications,
    permissions,
    projects,
    runtimes,
    schedules,
    settings,
    stan_heartbeat,
    stan_sessions,
    stan_settings,
    stan_tasks,
    tasks,
)

routes = [
    *health.routes,
    *keys.routes,
    # Stagent API domains
    *tasks.routes,
    *projects.routes,
    *settings.routes,
    *budgets.routes,
    *runtimes.routes,
    *schedules.routes,
    *chat.routes,
    *permissions.routes,
    *notifications.routes,
    *channels.routes,
    *logs.routes,
    # Stan
    *stan_sessions.routes,
    *stan_settings.routes,
    *stan_tasks.routes,
    *stan_heartbeat.routes,
]

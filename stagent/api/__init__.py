"""The whole URL surface, one list per domain, in the order of the seed documents."""

from . import (
    _stan,  # noqa: F401  (registers the Stan error envelope)
    blueprints,
    budgets,
    channels,
    chat,
    clients,
    health,
    keys,
    lars,
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
    ui_events,
    workflow_stream,
    workflow_triggers,
    workflows,
)

routes = [
    *health.routes,
    *keys.routes,
    # Stagent API domains
    *tasks.routes,
    *projects.routes,
    *workflow_triggers.routes,  # before the workflow routes: /api/workflows/hooks/{token}
    *blueprints.routes,
    *workflows.routes,
    *workflow_stream.routes,
    *settings.routes,
    *budgets.routes,
    *runtimes.routes,
    *schedules.routes,
    *chat.routes,
    *permissions.routes,
    *notifications.routes,
    *channels.routes,
    *logs.routes,
    *ui_events.routes,
    # Stan
    *stan_sessions.routes,
    *stan_settings.routes,
    *stan_tasks.routes,
    *stan_heartbeat.routes,
    # Lars
    *lars.routes,
    *clients.routes,
]

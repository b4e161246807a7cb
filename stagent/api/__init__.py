"""The whole URL surface, one list per domain, in the order of the seed documents."""

from . import (
    ai_agent,
    blueprints,
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
    stan,
    tasks,
    ui_events,
    workflows,
)

routes = [
    *health.routes,
    *keys.routes,
    # Stagent API domains
    *tasks.routes,
    *projects.routes,
    *workflows.triggers.routes,  # before the workflow routes: /api/workflows/hooks/{token}
    *blueprints.routes,
    *workflows.routes,
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
    *stan.routes,
    # Lars
    *ai_agent.routes,
]

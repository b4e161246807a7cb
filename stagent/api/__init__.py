"""The whole URL surface, one list per domain, in the order of the seed documents; each route
behind the access its entry in _scopes.ROUTE_ACCESS names."""

from . import (
    ai_agent,
    blueprints,
    budgets,
    channels,
    chat,
    context,
    data,
    documents,
    environment,
    handoffs,
    health,
    keys,
    logs,
    mcp,
    memory,
    notifications,
    permissions,
    profile_context,
    profile_import,
    profiles,
    projects,
    runtimes,
    schedules,
    settings,
    snapshots,
    stan,
    tables,
    task_changes,
    task_output,
    tasks,
    ui_events,
    uploads,
    views,
    workflows,
    workspace,
)
from ._scopes import guard_routes

routes = guard_routes([
    *health.routes,
    *keys.routes,
    # Stagent API domains
    *tasks.routes,
    *task_changes.routes,  # extension: a run's file changes and their revert
    *task_output.routes,  # extension: a task's output kept as a document
    *projects.routes,
    *workflows.triggers.routes,  # before the workflow routes: /api/workflows/hooks/{token}
    *blueprints.routes,
    *profile_import.routes,  # before any /api/profiles/{id}: `import-repo` is not an id
    *workflows.routes,
    *settings.routes,
    *budgets.routes,
    *runtimes.routes,
    *profile_context.routes,  # /api/profiles/{id}/context: learned context (engine/learning)
    *memory.routes,
    *documents.routes,
    *uploads.routes,
    # after /api/profiles/import*, whose GET import-repo `/api/profiles/{id}` would otherwise take
    *profiles.routes,
    *schedules.routes,
    *chat.routes,
    *permissions.routes,
    *notifications.routes,
    *channels.routes,
    *environment.routes,
    *logs.routes,
    *handoffs.routes,
    *tables.routes,  # api/tables/: its templates routes come before /api/tables/{id}
    *views.routes,
    *context.routes,
    *snapshots.routes,
    *data.routes,
    *workspace.routes,
    *ui_events.routes,
    # Stan
    *stan.routes,
    # Lars
    *ai_agent.routes,
    # stagent as an MCP server (streamable HTTP)
    *mcp.routes,
])

"""Who may call each route: the one table, enforced for every route by `guard_routes`.

Every `METHOD /path` of `api.routes` has exactly one entry (tests/test_scopes.py iterates both
ways, and `guard_routes` refuses to build a route without one). An entry says which scope a key
needs, and whether the local user may call the route without a key (docs/decisions/003):

- Stagent reads need `stagent:read`, writes `stagent:write`; without a key the local user
  (a loopback peer, `requireApiKey` off) may call them.
- Settings that hold or direct secrets (provider keys and base URLs, security) and the tool
  permission allow-list need `admin`; /api/keys and the security settings need it even locally.
- /api/v1/stan/* needs `stan:execute`, /api/ai-agent/* `ai-agent:chat` or `ai-agent:actions`
  (approving an action: `admin`), always with a key, as their seed documents say.
- /mcp (stagent as an MCP server) needs `mcp`, always with a key; the MCP server settings
  (/api/settings/mcp-servers, browser-tools: commands the daemon runs) need `admin`.
- KEYLESS routes check their own credential (a webhook signature, a token in the URL) or are
  public (health).
"""

from __future__ import annotations

import functools
import inspect

from starlette.routing import Route

from ..security import Access, authorize
from .ai_agent._surface import ACTIONS_SCOPE, APPROVE_SCOPE, CHAT_SCOPE
from .stan._surface import SCOPE as STAN_SCOPE

READ = Access("stagent:read")
WRITE = Access("stagent:write")
ADMIN = Access("admin")                    # admin, or the local user without a key
ADMIN_KEY = Access("admin", local=False)   # admin, always with a key (or the UI session)
STAN = Access(STAN_SCOPE, local=False)
LARS_CHAT = Access(CHAT_SCOPE, local=False)
LARS_ACTIONS = Access(ACTIONS_SCOPE, local=False)
LARS_APPROVE = Access(APPROVE_SCOPE, local=False)
MCP = Access("mcp", local=False)           # /mcp: an MCP client always sends its key
KEYLESS = Access(None)

ROUTE_ACCESS: dict[str, Access] = {
    "GET /api/health": KEYLESS,
    "GET /api/openapi.json": READ,
    # API keys
    "GET /api/keys": ADMIN_KEY,
    "POST /api/keys": ADMIN_KEY,
    "DELETE /api/keys/{id}": ADMIN_KEY,
    # tasks
    "GET /api/tasks": READ,
    "POST /api/tasks": WRITE,
    "POST /api/tasks/assist": WRITE,
    "GET /api/tasks/{id}": READ,
    "PATCH /api/tasks/{id}": WRITE,
    "DELETE /api/tasks/{id}": WRITE,
    "POST /api/tasks/{id}/execute": WRITE,
    "POST /api/tasks/{id}/resume": WRITE,
    "POST /api/tasks/{id}/cancel": WRITE,
    "POST /api/tasks/{id}/respond": WRITE,
    "GET /api/tasks/{id}/output": READ,
    "GET /api/tasks/{id}/logs": READ,
    "GET /api/tasks/{id}/provenance": READ,
    "GET /api/tasks/{id}/siblings": READ,
    "GET /api/tasks/{id}/changes": READ,
    "POST /api/tasks/{id}/changes/revert": WRITE,
    "POST /api/tasks/{id}/output/document": WRITE,
    # profiles (engine/profiles)
    "GET /api/profiles": READ,
    "POST /api/profiles": WRITE,
    "POST /api/profiles/assist": WRITE,
    "GET /api/profiles/{id}": READ,
    "PUT /api/profiles/{id}": WRITE,
    "DELETE /api/profiles/{id}": WRITE,
    "POST /api/profiles/{id}/test": WRITE,
    "POST /api/profiles/{id}/test-single": WRITE,
    "GET /api/profiles/{id}/test-results": READ,
    # projects
    "GET /api/projects": READ,
    "POST /api/projects": WRITE,
    "GET /api/projects/{id}": READ,
    "PATCH /api/projects/{id}": WRITE,
    "DELETE /api/projects/{id}": WRITE,
    "GET /api/projects/{id}/documents": READ,
    "PUT /api/projects/{id}/documents": WRITE,
    # workflow triggers: the webhook's token is its credential
    "POST /api/workflows/hooks/{token}": KEYLESS,
    "GET /api/workflows/{id}/triggers": READ,
    "POST /api/workflows/{id}/triggers/sync": WRITE,
    # blueprints
    "GET /api/blueprints": READ,
    "POST /api/blueprints": WRITE,
    "POST /api/blueprints/import": WRITE,
    "GET /api/blueprints/{id}": READ,
    "DELETE /api/blueprints/{id}": WRITE,
    "POST /api/blueprints/{id}/instantiate": WRITE,
    "GET /api/blueprints/{id}/lineage": READ,
    # profile import (GitHub)
    "POST /api/profiles/import": WRITE,
    "GET /api/profiles/import-repo": READ,
    "POST /api/profiles/import-repo/scan": WRITE,
    "POST /api/profiles/import-repo/preview": WRITE,
    "POST /api/profiles/import-repo/confirm": WRITE,
    "POST /api/profiles/import-repo/check-updates": WRITE,
    "POST /api/profiles/import-repo/apply-updates": WRITE,
    # workflows
    "GET /api/workflows": READ,
    "POST /api/workflows": WRITE,
    "POST /api/workflows/from-assist": WRITE,
    "GET /api/workflows/{id}": READ,
    "PATCH /api/workflows/{id}": WRITE,
    "DELETE /api/workflows/{id}": WRITE,
    "POST /api/workflows/{id}/execute": WRITE,
    "GET /api/workflows/{id}/status": READ,
    "GET /api/workflows/{id}/documents": READ,
    "POST /api/workflows/{id}/documents": WRITE,
    "DELETE /api/workflows/{id}/documents": WRITE,
    "POST /api/workflows/{id}/steps/{step_id}/retry": WRITE,
    "POST /api/workflows/{id}/cancel": WRITE,
    "POST /api/workflows/{id}/respond": WRITE,
    "GET /api/workflows/{id}/stream": READ,
    # settings: provider keys and base URLs (where the keys are sent) are admin
    "GET /api/settings/providers": ADMIN,
    "GET /api/settings": ADMIN,
    "POST /api/settings": ADMIN,
    "GET /api/settings/openai": ADMIN,
    "POST /api/settings/openai": ADMIN,
    "GET /api/settings/ollama": ADMIN,
    "POST /api/settings/ollama": ADMIN,
    "POST /api/settings/test": ADMIN,
    "GET /api/settings/web-search": ADMIN,  # the Exa key (masked) and where it is sent
    "POST /api/settings/web-search": ADMIN,
    # MCP servers are commands the daemon runs (and where their tokens are sent): admin
    "GET /api/settings/mcp-servers": ADMIN,
    "PUT /api/settings/mcp-servers": ADMIN,
    "GET /api/settings/browser-tools": ADMIN,
    "POST /api/settings/browser-tools": ADMIN,
    "GET /api/settings/security": ADMIN_KEY,
    "PUT /api/settings/security": ADMIN_KEY,
    "GET /api/settings/runtime": READ,
    "POST /api/settings/runtime": WRITE,
    "GET /api/settings/chat": READ,
    "PUT /api/settings/chat": WRITE,
    "GET /api/settings/tasks": READ,
    "PUT /api/settings/tasks": WRITE,
    "GET /api/settings/routing": READ,
    "POST /api/settings/routing": WRITE,
    # budgets and spend
    "GET /api/settings/budgets": READ,
    "POST /api/settings/budgets": WRITE,
    "GET /api/settings/pricing": READ,
    "POST /api/settings/pricing": WRITE,
    "GET /api/usage": READ,
    # runtimes
    "POST /api/runtimes/suggest": READ,  # answers a question, changes nothing
    "GET /api/runtimes/ollama": READ,
    "POST /api/runtimes/ollama": WRITE,
    # schedules
    "GET /api/schedules": READ,
    "POST /api/schedules": WRITE,
    "POST /api/schedules/parse": READ,  # parses text, stores nothing
    "GET /api/schedules/{id}": READ,
    "PATCH /api/schedules/{id}": WRITE,
    "DELETE /api/schedules/{id}": WRITE,
    "GET /api/schedules/{id}/heartbeat-history": READ,
    "POST /api/schedules/{id}/execute": WRITE,
    # chat
    "GET /api/chat/conversations": READ,
    "POST /api/chat/conversations": WRITE,
    "GET /api/chat/conversations/{id}": READ,
    "PATCH /api/chat/conversations/{id}": WRITE,
    "DELETE /api/chat/conversations/{id}": WRITE,
    "GET /api/chat/conversations/{id}/messages": READ,
    "POST /api/chat/conversations/{id}/messages": WRITE,
    "POST /api/chat/conversations/{id}/respond": WRITE,
    "POST /api/chat/conversations/{id}/cancel": WRITE,
    "GET /api/chat/conversations/{id}/stream": READ,
    "GET /api/chat/entities/search": READ,
    "GET /api/chat/models": READ,
    "GET /api/chat/suggested-prompts": READ,
    # tool permissions: an allow-list entry approves tool calls without asking
    "GET /api/permissions": ADMIN,
    "POST /api/permissions": ADMIN,
    "DELETE /api/permissions": ADMIN,
    "GET /api/permissions/presets": ADMIN,
    "POST /api/permissions/presets": ADMIN,
    "DELETE /api/permissions/presets": ADMIN,
    "GET /api/permissions/settings": ADMIN,
    "PUT /api/permissions/settings": ADMIN,
    # tables (docs/decisions/024-tables.md) and saved views
    "GET /api/tables": READ,
    "POST /api/tables": WRITE,
    "GET /api/tables/{id}": READ,
    "PATCH /api/tables/{id}": WRITE,
    "DELETE /api/tables/{id}": WRITE,
    "POST /api/tables/{id}/columns": WRITE,
    "PATCH /api/tables/{id}/columns": WRITE,
    "GET /api/tables/{id}/rows": READ,
    "POST /api/tables/{id}/rows": WRITE,
    "PATCH /api/tables/{id}/rows/{rowId}": WRITE,
    "DELETE /api/tables/{id}/rows/{rowId}": WRITE,
    "GET /api/tables/{id}/history": READ,
    "GET /api/tables/{id}/rows/{rowId}/history": READ,
    "POST /api/tables/{id}/rows/{rowId}/history": WRITE,
    "GET /api/tables/templates": READ,
    "POST /api/tables/templates": WRITE,
    "POST /api/tables/{id}/import": WRITE,
    "GET /api/tables/{id}/export": READ,
    "GET /api/tables/{id}/triggers": READ,
    "POST /api/tables/{id}/triggers": WRITE,
    "PATCH /api/tables/{id}/triggers": WRITE,
    "PATCH /api/tables/{id}/triggers/{triggerId}": WRITE,
    "DELETE /api/tables/{id}/triggers/{triggerId}": WRITE,
    "GET /api/tables/{id}/charts": READ,
    "POST /api/tables/{id}/charts": WRITE,
    "PATCH /api/tables/{id}/charts/{chartId}": WRITE,
    "DELETE /api/tables/{id}/charts/{chartId}": WRITE,
    "GET /api/views": READ,
    "POST /api/views": WRITE,
    "PATCH /api/views/{id}": WRITE,
    "DELETE /api/views/{id}": WRITE,
    # memory, handoffs, learned context (docs/decisions: memory-and-handoffs)
    "GET /api/profiles/{id}/context": READ,
    "POST /api/profiles/{id}/context": WRITE,
    "PATCH /api/profiles/{id}/context": WRITE,
    "GET /api/memory": READ,
    "POST /api/memory": WRITE,
    "PATCH /api/memory": WRITE,
    "DELETE /api/memory": WRITE,
    # documents and uploads (docs/decisions/023-documents.md)
    "GET /api/documents": READ,
    "POST /api/documents": WRITE,
    "GET /api/documents/{id}": READ,
    "PATCH /api/documents/{id}": WRITE,
    "DELETE /api/documents/{id}": WRITE,
    "GET /api/documents/{id}/file": READ,
    "GET /api/documents/{id}/versions": READ,
    "POST /api/uploads": WRITE,
    "POST /api/uploads/cleanup": WRITE,
    "GET /api/uploads/{id}": READ,
    "DELETE /api/uploads/{id}": WRITE,
    "GET /api/handoffs": READ,
    "POST /api/handoffs": WRITE,
    "GET /api/handoffs/{id}": READ,
    "PATCH /api/handoffs/{id}": WRITE,
    "POST /api/context/batch": WRITE,
    # snapshots (restore replaces every piece of data: admin)
    "GET /api/snapshots": READ,
    "POST /api/snapshots": WRITE,
    "GET /api/snapshots/settings": READ,
    "PUT /api/snapshots/settings": WRITE,
    "GET /api/snapshots/{id}": READ,
    "DELETE /api/snapshots/{id}": WRITE,
    "POST /api/snapshots/{id}/restore": ADMIN,
    # data: replaces or deletes every piece of user data
    "POST /api/data/seed": ADMIN,
    "POST /api/data/clear": ADMIN,
    # workspace: discovery lists folders anywhere on disk
    "GET /api/workspace/context": READ,
    "GET /api/settings/author-default": READ,
    "POST /api/workspace/discover": ADMIN,
    "POST /api/workspace/import": WRITE,
    "GET /api/settings/learning": READ,
    "POST /api/settings/learning": WRITE,
    # notifications
    "GET /api/notifications": READ,
    "PATCH /api/notifications/mark-all-read": WRITE,
    "GET /api/notifications/pending-approvals": READ,
    "GET /api/notifications/pending-approvals/stream": READ,
    "GET /api/notifications/stream": READ,
    "PATCH /api/notifications/{id}": WRITE,
    "DELETE /api/notifications/{id}": WRITE,
    "POST /api/notifications/{id}/respond": WRITE,
    # channels: the inbound webhooks and a webhook channel's callback are signed by the sender
    "GET /api/channels": READ,
    "POST /api/channels": WRITE,
    "POST /api/channels/inbound/slack": KEYLESS,
    "POST /api/channels/inbound/telegram": KEYLESS,
    "POST /api/channels/inbound/telegram/poll": WRITE,
    "GET /api/channels/{id}": READ,
    "PATCH /api/channels/{id}": WRITE,
    "DELETE /api/channels/{id}": WRITE,
    "POST /api/channels/{id}/test": WRITE,
    "GET /api/channels/{id}/deliveries": READ,
    "POST /api/channels/{id}/callback": KEYLESS,
    # environment (docs/decisions/026): answers mask config secrets; writing the user's tool
    # configs (sync, rollback) is admin: an MCP server entry is a command the tools will run
    "POST /api/environment/scan": WRITE,
    "GET /api/environment/scan": READ,
    "GET /api/environment/artifacts": READ,
    "GET /api/environment/artifacts/{id}": READ,
    "GET /api/environment/checkpoints": READ,
    "POST /api/environment/checkpoints": WRITE,
    "GET /api/environment/checkpoints/{id}": READ,
    "POST /api/environment/checkpoints/{id}": ADMIN,
    "GET /api/environment/profiles/suggest": READ,
    "POST /api/environment/profiles/create": WRITE,
    "POST /api/environment/sync/preview": WRITE,
    "POST /api/environment/sync": ADMIN,
    "GET /api/environment/sync/history": READ,
    "GET /api/environment/templates": READ,
    "POST /api/environment/templates": WRITE,
    "GET /api/environment/templates/{id}": READ,
    "DELETE /api/environment/templates/{id}": WRITE,
    # logs and the UI's event stream
    "GET /api/logs/stream": READ,
    "GET /api/events/stream": READ,
    "GET /api/events/logs": READ,
    # Stan
    "POST /api/v1/stan/sessions": STAN,
    "GET /api/v1/stan/sessions/{id}": STAN,
    "DELETE /api/v1/stan/sessions/{id}": STAN,
    "POST /api/v1/stan/sessions/{id}/messages": STAN,
    "POST /api/v1/stan/message": STAN,
    "GET /api/v1/stan/personality": STAN,
    "PUT /api/v1/stan/personality": STAN,
    "GET /api/v1/stan/skills": STAN,
    "POST /api/v1/stan/skills": STAN,
    "GET /api/v1/stan/skills/{id}": STAN,
    "PATCH /api/v1/stan/skills/{id}": STAN,
    "DELETE /api/v1/stan/skills/{id}": STAN,
    "GET /api/v1/stan/context": STAN,
    "POST /api/v1/stan/compact": STAN,
    "GET /api/v1/stan/conversations": STAN,
    "GET /api/v1/stan/conversations/{id}": STAN,
    "POST /api/v1/stan/conversations/{id}/resume": STAN,
    "GET /api/v1/stan/tasks": STAN,
    "POST /api/v1/stan/tasks": STAN,
    "GET /api/v1/stan/tasks/{id}": STAN,
    "PUT /api/v1/stan/tasks/{id}": STAN,
    "DELETE /api/v1/stan/tasks/{id}": STAN,
    "POST /api/v1/stan/tasks/{id}/pause": STAN,
    "POST /api/v1/stan/tasks/{id}/resume": STAN,
    "GET /api/v1/stan/heartbeat": STAN,
    "PUT /api/v1/stan/heartbeat": STAN,
    "POST /api/v1/stan/heartbeat/run": STAN,
    "GET /api/v1/stan/heartbeat/history": STAN,
    # Lars
    "POST /api/ai-agent/chat": LARS_CHAT,
    "GET /api/ai-agent/actions": LARS_ACTIONS,
    "GET /api/ai-agent/actions/{actionId}": LARS_ACTIONS,
    "POST /api/ai-agent/actions/{actionId}/execute": LARS_ACTIONS,
    "POST /api/ai-agent/actions/{actionId}/respond": LARS_APPROVE,
    "GET /api/ai-agent/clients": LARS_CHAT,
    "POST /api/ai-agent/clients": LARS_ACTIONS,
    "POST /api/ai-agent/clients/import": LARS_ACTIONS,
    "GET /api/ai-agent/clients/{clientId}": LARS_CHAT,
    "PATCH /api/ai-agent/clients/{clientId}": LARS_ACTIONS,
    "DELETE /api/ai-agent/clients/{clientId}": LARS_ACTIONS,
    # stagent as an MCP server (its tools create and run tasks and answer approvals)
    "POST /mcp": MCP,
}

def route_keys(route: Route) -> list[str]:
    """`METHOD /path` for each method a route answers (HEAD comes with GET)."""
    return [f"{method} {route.path}" for method in sorted((route.methods or set()) - {"HEAD"})]


def route_access(route: Route) -> Access:
    keys = route_keys(route)
    missing = [key for key in keys if key not in ROUTE_ACCESS]
    if missing:
        raise LookupError(f"{', '.join(missing)}: no entry in stagent/api/_scopes.py ROUTE_ACCESS; "
                          "every route declares who may call it")
    found = {ROUTE_ACCESS[key] for key in keys}
    if len(found) != 1:
        raise LookupError(f"{route.path}: one Route answers methods with different access; split it")
    return found.pop()


def guard(endpoint, access: Access):
    """The endpoint behind `authorize(request, access)`; its OpenAPI metadata names 401/403."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint!r}: a guarded endpoint must be an async function")

    @functools.wraps(endpoint)
    async def guarded(request):
        authorize(request, access)
        return await endpoint(request)

    meta = getattr(endpoint, "__openapi__", None)
    if meta is not None and access.scope is not None:
        guarded.__openapi__ = {**meta, "errors": tuple(sorted({*meta["errors"], 401, 403}))}
    return guarded


def guard_routes(routes: list) -> list[Route]:
    """The same routes, each endpoint behind the access its table entry names."""
    guarded = []
    for route in routes:
        if not isinstance(route, Route):
            raise TypeError(f"{route!r}: only Routes can be guarded")
        guarded.append(Route(route.path, guard(route.endpoint, route_access(route)),
                             methods=sorted(route.methods or ()), name=route.name))
    return guarded

"""/api/ai-agent: the Lars surface ({success, error, code, timestamp}, X-Workspace-Id, rate limits)."""

from . import (
    _surface,  # noqa: F401  (registers the Lars error envelope)
    actions,
    chat,
    clients,
)

routes = [
    *chat.routes,
    *actions.routes,
    *clients.routes,
]

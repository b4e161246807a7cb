"""/api/ai-agent: the Lars surface ({success, error, code, timestamp}, X-Workspace-Id, rate limits)."""

from . import _surface, clients

routes = [
    *_surface.routes,
    *clients.routes,
]

"""/api/settings: provider keys, the simple key/value settings, the connection test, security."""

from starlette.routing import Route

from . import author, groups, learning, mcp, providers, web_search

routes = [
    Route("/api/settings/providers", providers.get_providers, methods=["GET"]),
    Route("/api/settings", providers.get_anthropic_auth, methods=["GET"]),
    Route("/api/settings", providers.set_anthropic_auth, methods=["POST"]),
    Route("/api/settings/openai", providers.get_openai_auth, methods=["GET"]),
    Route("/api/settings/openai", providers.set_openai_auth, methods=["POST"]),
    *(route for group in groups.GROUPS for route in groups.group_routes(group)),
    Route("/api/settings/web-search", web_search.get_web_search_settings, methods=["GET"]),
    Route("/api/settings/web-search", web_search.set_web_search_settings, methods=["POST"]),
    *learning.routes,  # /api/settings/learning
    *mcp.routes,  # /api/settings/mcp-servers, /api/settings/browser-tools
    Route("/api/settings/test", providers.test_connection, methods=["POST"]),
    Route("/api/settings/author-default", author.get_author_default, methods=["GET"]),
]

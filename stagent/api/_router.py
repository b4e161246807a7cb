"""Route matching by domain: Starlette's Router tries every route in order, which with ~250 routes
cost a late domain (/api/schedules) more than its handler. `DomainRouter` first looks up the
request's `/api/<domain>` and matches only that domain's routes, in their original order; any
other path (the UI, /static, /mcp) goes through the full list as before."""

from __future__ import annotations

from starlette.routing import Route, Router


def domain_of(path: str) -> str | None:
    """`/api/tasks` for `/api/tasks/abc/logs`; None outside /api/."""
    if not path.startswith("/api/"):
        return None
    return "/api/" + path[5:].split("/", 1)[0]


def _route_domain(route) -> str | None:
    """The domain a route can only ever match, or None when its domain segment is a parameter
    (or it is not a plain Route under /api/): such a route belongs to every domain."""
    if not isinstance(route, Route):
        return None
    domain = domain_of(route.path)
    return None if domain is None or "{" in domain else domain


class DomainRouter(Router):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        routes_of: dict[str, list] = {}
        for route in self.routes:
            domain = _route_domain(route)
            if domain is not None:
                routes_of.setdefault(domain, [])
        for route in self.routes:  # original order kept within each domain
            domain = _route_domain(route)
            for name, routes in routes_of.items():
                if domain is None or domain == name:
                    routes.append(route)
        self.domains = {name: Router(routes, redirect_slashes=self.redirect_slashes, default=self.default)
                        for name, routes in routes_of.items()}

    @classmethod
    def replacing(cls, router: Router) -> DomainRouter:
        return cls(router.routes, redirect_slashes=router.redirect_slashes, default=router.default,
                   lifespan=router.lifespan_context)

    async def app(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            domain = self.domains.get(domain_of(scope["path"]))
            if domain is not None:
                scope.setdefault("router", self)
                await domain.app(scope, receive, send)
                return
        await super().app(scope, receive, send)

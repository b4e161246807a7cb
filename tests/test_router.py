"""DomainRouter (stagent/api/_router.py) must pick exactly the route Starlette's linear router
would, for every route of the app and every method."""

from __future__ import annotations

import re

from starlette.routing import Match, Route

from stagent.api._router import DomainRouter, domain_of
from stagent.app import create_app
from stagent.config import Config


def _first_full_match(routes, scope):
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def _scope(path: str, method: str) -> dict:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def test_every_route_is_found_in_its_domain_as_in_the_full_list(tmp_path):
    app = create_app(Config(data_dir=tmp_path, warm_llm=False, scheduler=False))
    router = app.router
    assert isinstance(router, DomainRouter)
    checked = 0
    for route in router.routes:
        if not isinstance(route, Route) or domain_of(route.path) is None:
            continue
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        for method in sorted(route.methods or ()):
            scope = _scope(path, method)
            expected = _first_full_match(router.routes, scope)
            domain = router.domains[domain_of(path)]
            assert _first_full_match(domain.routes, scope) is expected, f"{method} {path}"
            checked += 1
    assert checked > 200


def test_unknown_domains_and_paths_outside_api_use_the_full_list(tmp_path):
    app = create_app(Config(data_dir=tmp_path, warm_llm=False, scheduler=False))
    assert domain_of("/api/nothing-here") not in app.router.domains
    assert domain_of("/static/app.js") is None
    assert domain_of("/api/tasks/abc/logs") == "/api/tasks"

"""The URL surface against the catalog, ../shared/reference/stagent-api.md, Appendix A.

- Every route under /api/ is a catalog endpoint or a declared EXTENSION (or belongs to another
  surface with its own document: Stan, Lars).
- Every catalog endpoint is routed or still PENDING. When an issue lands its endpoints, this test
  fails until they are struck from PENDING, so the list only shrinks.

Path parameters are compared by position, not name: the catalog's `[stepId]` matches a route's
`{step_id}`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from stagent.api import routes

CATALOG = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "stagent-api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Surfaces documented elsewhere (the Stan and Lars seed documents), not in this catalog.
OTHER_SURFACES = ("/api/v1/stan/", "/api/ai-agent/")

# Routes this daemon adds to the catalog, each for a reason.
EXTENSIONS = {
    "GET /api/settings/tasks",  # the default model of tasks, schedules and workflow steps
    "PUT /api/settings/tasks",
    "GET /api/health",              # liveness, version, data dir
    "GET /api/openapi.json",        # the machine-readable surface (fuzzed by test_openapi_fuzz)
    "GET /api/keys",                # API keys: the original had none
    "POST /api/keys",
    "DELETE /api/keys/{id}",
    "GET /api/settings/security",   # requireApiKey
    "PUT /api/settings/security",
    "POST /api/schedules/{id}/execute",  # run now (the original's optional manual firing)
    "GET /api/usage",               # spend by day, project, runtime or model
    "GET /api/channels/{id}/deliveries",  # delivery history: status, attempts, last error
    "POST /api/channels/{id}/callback",  # a webhook channel's signed permission decision
    "GET /api/permissions/settings",  # the approval timeout (docs/decisions/010-permissions.md)
    "PUT /api/permissions/settings",
    "GET /api/notifications/stream",  # SSE of notifications as they are created or change
    "POST /api/notifications/{id}/respond",  # answer any waiting permission request from the inbox
    "GET /api/blueprints/{id}/lineage",  # which workflows came from which version (decision 014)
    "GET /api/workflows/{id}/triggers",  # trigger nodes with their webhook URL / schedule (014)
    "POST /api/workflows/{id}/triggers/sync",
    "POST /api/workflows/hooks/{token}",  # a webhook trigger's URL; keyless, the token is the credential
    "GET /api/workflows/{id}",      # one workflow (the catalog reads it only through /status)
    "POST /api/workflows/{id}/cancel",  # stop every running step (decision 013)
    "POST /api/workflows/{id}/respond",  # answer the workflow's checkpoint
    "GET /api/workflows/{id}/stream",  # SSE of the run's progress
    "POST /api/chat/conversations/{id}/cancel",  # Stop: end the reply in progress (decision 016)
    "GET /api/chat/conversations/{id}/stream",  # read the reply in progress again, from an eventId (016)
    "GET /api/events/stream",       # the browser UI's one multiplexed SSE stream (decision 016)
    "GET /api/events/logs",         # a task's log history as JSON pages (decision 016)
    "GET /api/settings/mcp-servers",  # the MCP servers task runs are offered (secrets masked)
    "PUT /api/settings/mcp-servers",
    "GET /api/tasks/{id}/changes",  # the files a task's runs changed, with diffs (decision 018)
    "POST /api/tasks/{id}/changes/revert",  # put those files back
    "POST /api/tasks/{id}/output/document",  # keep a task's output as a document (decision 023b)
}

# Catalog endpoints not routed yet. Generated from the catalog minus the routes; strike entries
# as the issues that implement them land.
PENDING: set[str] = set()  # every catalog endpoint is routed; a new catalog entry lands here first


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _key(endpoint: str) -> tuple[str, str]:
    method, path = endpoint.split(" ", 1)
    return method, _shape(path)


def _routed(items, prefix: str = ""):
    for item in items:
        if isinstance(item, Mount):
            yield from _routed(item.routes, prefix + item.path)
        elif isinstance(item, Route):
            for method in sorted((item.methods or set()) - {"HEAD"}):
                yield f"{method} {prefix}{item.path}"


ROUTED = {e for e in _routed(routes) if e.split(" ", 1)[1].startswith("/api/")}
ROUTED_KEYS = {_key(e): e for e in ROUTED}


def _catalog() -> list[str]:
    if not CATALOG.is_file():
        pytest.skip(f"the catalog is not at {CATALOG} (CI clones shared/ beside the repo)")
    text = CATALOG.read_text()
    appendix = text[text.index("## Appendix A"):]
    declared = int(re.search(r"\((\d+) in-domain method\+path pairs\)", appendix).group(1))
    pattern = r"^\d+\.\s+`(" + "|".join(METHODS) + r") (/api/[^`\s]+)`"
    endpoints = [method + " " + re.sub(r"\[(\w+)\]", r"{\1}", path)
                 for method, path in re.findall(pattern, appendix, re.M)]
    assert len(endpoints) == declared, "the checklist parser missed or invented endpoints"
    return endpoints


def test_routes_are_catalogued_or_declared_extensions():
    catalog = {_key(e) for e in _catalog()}
    unknown = sorted(e for e in ROUTED if _key(e) not in catalog and e not in EXTENSIONS
                     and not e.split(" ", 1)[1].startswith(OTHER_SURFACES))
    assert not unknown, f"routes in neither the catalog nor EXTENSIONS: {unknown}"


def test_catalog_endpoints_are_routed_or_pending():
    catalog = _catalog()
    missing = sorted(e for e in catalog if _key(e) not in ROUTED_KEYS and e not in PENDING)
    assert not missing, f"catalog endpoints neither routed nor PENDING: {missing}"


def test_pending_shrinks_as_endpoints_land():
    landed = sorted(e for e in PENDING if _key(e) in ROUTED_KEYS)
    assert not landed, f"routed now, strike them from PENDING: {landed}"
    catalog = set(_catalog())
    assert not PENDING - catalog, f"PENDING entries the catalog does not list: {sorted(PENDING - catalog)}"


def test_extensions_are_routed():
    stale = sorted(e for e in EXTENSIONS if _key(e) not in ROUTED_KEYS)
    assert not stale, f"EXTENSIONS that are not routed (remove them): {stale}"


def test_extensions_are_not_catalogued():
    catalog = {_key(e) for e in _catalog()}
    assert not [e for e in EXTENSIONS if _key(e) in catalog], "a catalogued endpoint is not an extension"


def test_each_method_and_path_is_routed_once():
    listed = list(_routed(routes))
    assert len(listed) == len(set(listed)), sorted(e for e in listed if listed.count(e) > 1)

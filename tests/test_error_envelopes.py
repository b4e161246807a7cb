"""The error envelopes no client input may get past: malformed bodies, unknown ids, wrong
methods, unknown paths, all JSON in the documented shape, through real HTTP."""

from __future__ import annotations

import pytest

from tests.test_security import JSON, _count, _is_flatten, _is_stagent_error

BAD_BODIES = [
    pytest.param(b"{", id="malformed"),
    pytest.param(b'{"title": "x",}', id="trailing-comma"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'[{"title": "x", "name": "x"}]', id="array-of-object"),
    pytest.param(b'"x"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b'{"title": NaN, "name": NaN}', id="nan"),
    pytest.param(b"[" * 50_000, id="deeply-nested"),
]


@pytest.mark.parametrize("collection", ["tasks", "projects"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_get_the_flatten_shape_and_create_nothing(daemon, collection, body):
    response = daemon.client.post(f"/api/{collection}", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert _is_flatten(response), response.text
    error = response.json()["error"]
    assert error["formErrors"] or error["fieldErrors"]
    assert _count(daemon.client, collection) == 0


def test_empty_body_names_the_missing_fields(daemon):
    tasks = daemon.client.post("/api/tasks", content=b"", headers=JSON).json()["error"]
    assert tasks["fieldErrors"] == {"title": ["Required"]}
    projects = daemon.client.post("/api/projects", content=b"", headers=JSON).json()["error"]
    assert projects["fieldErrors"] == {"name": ["Required"]}


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/tasks/nope"), ("PATCH", "/api/tasks/nope"), ("DELETE", "/api/tasks/nope"),
    ("POST", "/api/tasks/nope/cancel"), ("POST", "/api/tasks/nope/execute"),
    ("GET", "/api/tasks/nope/output"), ("GET", "/api/tasks/nope/provenance"),
    ("GET", "/api/projects/nope"), ("PATCH", "/api/projects/nope"), ("DELETE", "/api/projects/nope"),
    ("PUT", "/api/projects/nope/documents"),
])
def test_unknown_ids_get_404(daemon, method, path):
    body = {"documentIds": []} if path.endswith("/documents") else {}
    response = daemon.client.request(method, path, json=body)
    assert response.status_code == 404
    assert _is_stagent_error(response)


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/tasks", {"GET", "HEAD", "POST"}),
    ("POST", "/api/tasks/x", {"GET", "HEAD", "PATCH", "DELETE"}),
    ("DELETE", "/api/health", {"GET", "HEAD"}),
    ("GET", "/api/keys/x", {"DELETE"}),
])
def test_wrong_method_gets_405_json_with_allow(daemon, method, path, allowed):
    response = daemon.client.request(method, path)
    assert response.status_code == 405
    assert _is_stagent_error(response)
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize("path", ["/api/nope", "/api/tasks/x/nope", "/api/v1/unknown"])
def test_unknown_api_path_gets_404_json(daemon, path):
    response = daemon.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert _is_stagent_error(response)

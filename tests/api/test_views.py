"""/api/views over real HTTP: saved views per surface, the default first, one default per
surface, filters/sorting/columns stored as JSON and returned as strings (as documented)."""

from __future__ import annotations

import json


def test_views_crud_and_defaults(client):
    assert client.get("/api/views").json() == {"error": "surface param required"}
    assert client.get("/api/views").status_code == 400

    r = client.post("/api/views", json={"surface": "tasks", "name": "Zeta", "filters": {"status": ["running"]},
                                        "sorting": [{"id": "priority", "desc": False}], "columns": {"title": True}})
    assert r.status_code == 201
    zeta = r.json()
    assert zeta["density"] == "comfortable" and zeta["isDefault"] is False
    assert json.loads(zeta["filters"]) == {"status": ["running"]}  # a JSON string
    assert json.loads(zeta["sorting"]) == [{"id": "priority", "desc": False}]
    alpha = client.post("/api/views", json={"surface": "tasks", "name": "alpha", "density": "compact"}).json()
    assert alpha["filters"] is None and alpha["density"] == "compact"
    default = client.post("/api/views", json={"surface": "tasks", "name": "Mine", "isDefault": True}).json()
    client.post("/api/views", json={"surface": "tables:abc", "name": "Other surface", "isDefault": True})

    listed = client.get("/api/views", params={"surface": "tasks"}).json()
    assert [v["name"] for v in listed] == ["Mine", "alpha", "Zeta"]  # default first, then by name
    assert [v["name"] for v in client.get("/api/views", params={"surface": "tables:abc"}).json()] == ["Other surface"]
    assert client.get("/api/views", params={"surface": "nowhere"}).json() == []

    r = client.patch(f"/api/views/{zeta['id']}", json={"isDefault": True, "density": "spacious", "filters": None})
    assert r.status_code == 200 and r.json()["isDefault"] is True and r.json()["filters"] is None
    listed = client.get("/api/views", params={"surface": "tasks"}).json()
    assert [v["name"] for v in listed] == ["Zeta", "alpha", "Mine"]  # one default per surface
    assert [v["isDefault"] for v in listed] == [True, False, False]
    assert client.get("/api/views", params={"surface": "tables:abc"}).json()[0]["isDefault"] is True
    assert client.patch(f"/api/views/{alpha['id']}", json={"name": "Alpha"}).json()["name"] == "Alpha"

    for bad in ({"density": "huge"}, {"name": ""}, {"name": None}, {"filters": 5}, {"isDefault": "yes"}):
        assert client.patch(f"/api/views/{alpha['id']}", json=bad).status_code == 400, bad
    for bad in ({}, {"surface": "tasks"}, {"name": "x"}, {"surface": "tasks", "name": "x", "density": "tiny"},
                {"surface": "tasks", "name": "x", "columns": "not json"}, {"surface": " ", "name": "x"}):
        assert client.post("/api/views", json=bad).status_code == 400, bad

    assert client.patch("/api/views/nope", json={"name": "x"}).status_code == 404
    r = client.delete(f"/api/views/{default['id']}")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert client.delete(f"/api/views/{default['id']}").status_code == 404
    assert [v["name"] for v in client.get("/api/views", params={"surface": "tasks"}).json()] == ["Zeta", "Alpha"]

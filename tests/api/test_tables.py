"""/api/tables, /api/tables/{id}, /api/tables/{id}/columns over real HTTP: every status code,
typed columns, computed cycles refused, relations resolved to their display column."""

from __future__ import annotations

import json

GONE = "00000000-0000-0000-0000-000000000000"


def make_table(client, name="Deals", columns=None, **extra) -> dict:
    r = client.post("/api/tables", json={"name": name, "columns": columns or [
        {"name": "title", "displayName": "Title", "dataType": "text", "required": True},
        {"name": "amount", "displayName": "Amount", "dataType": "number"},
    ], **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_list_get_update_delete(client):
    project = client.post("/api/projects", json={"name": "Sales"}).json()
    table = make_table(client, description="Pipeline", projectId=project["id"])
    assert table["name"] == "Deals" and table["source"] == "manual" and table["rowCount"] == 0
    assert [c["name"] for c in table["columns"]] == ["title", "amount"]
    assert table["columns"][0]["required"] is True and table["columns"][0]["position"] == 0
    assert [c["name"] for c in json.loads(table["columnSchema"])] == ["title", "amount"]  # a JSON string
    other = make_table(client, "Reading list", source="agent")

    listed = client.get("/api/tables").json()
    assert [t["id"] for t in listed] == [other["id"], table["id"]]  # most recently updated first
    mine = next(t for t in listed if t["id"] == table["id"])
    assert mine["projectName"] == "Sales" and mine["columnCount"] == 2
    assert [t["id"] for t in client.get("/api/tables", params={"projectId": project["id"]}).json()] == [table["id"]]
    assert [t["id"] for t in client.get("/api/tables", params={"source": "agent"}).json()] == [other["id"]]
    assert [t["id"] for t in client.get("/api/tables", params={"search": "pipeline"}).json()] == [table["id"]]
    assert [t["id"] for t in client.get("/api/tables", params={"search": "READING"}).json()] == [other["id"]]
    assert client.get("/api/tables", params={"source": "stolen"}).status_code == 400

    got = client.get(f"/api/tables/{table['id']}").json()
    assert got["description"] == "Pipeline" and len(got["columns"]) == 2

    r = client.patch(f"/api/tables/{table['id']}", json={"name": "Deals 2026", "projectId": None})
    assert r.status_code == 200 and r.json()["name"] == "Deals 2026" and r.json()["projectId"] is None
    assert client.get("/api/tables").json()[0]["id"] == table["id"]  # now the most recent
    assert client.patch(f"/api/tables/{table['id']}", json={"name": ""}).status_code == 400
    assert client.patch(f"/api/tables/{table['id']}", json={"name": None}).status_code == 400
    assert client.patch(f"/api/tables/{table['id']}", json={"projectId": GONE}).status_code == 400

    assert client.patch(f"/api/tables/{table['id']}", json={"name": "  "}).json() == {"error": "name must not be blank"}

    r = client.delete(f"/api/tables/{table['id']}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api/tables/{table['id']}").status_code == 404
    assert [t["id"] for t in client.get("/api/tables").json()] == [other["id"]]

    in_project = make_table(client, "Project table", projectId=project["id"])
    client.post(f"/api/tables/{in_project['id']}/rows", json={"rows": [{"data": {"title": "x"}}]})
    assert client.delete(f"/api/projects/{project['id']}").status_code == 200
    assert client.get(f"/api/tables/{in_project['id']}").status_code == 404  # deleted with its project


def test_unknown_tables_are_404_on_every_route(client):
    for method, path, body in [
        ("GET", f"/api/tables/{GONE}", None), ("PATCH", f"/api/tables/{GONE}", {"name": "x"}),
        ("DELETE", f"/api/tables/{GONE}", None),
        ("POST", f"/api/tables/{GONE}/columns", {"name": "x", "displayName": "X", "dataType": "text"}),
        ("PATCH", f"/api/tables/{GONE}/columns", {"columnIds": ["a"]}),
        ("GET", f"/api/tables/{GONE}/rows", None), ("POST", f"/api/tables/{GONE}/rows", {"rows": [{"data": {}}]}),
        ("PATCH", f"/api/tables/{GONE}/rows/{GONE}", {"data": {}}),
        ("DELETE", f"/api/tables/{GONE}/rows/{GONE}", None),
        ("GET", f"/api/tables/{GONE}/history", None), ("GET", f"/api/tables/{GONE}/rows/{GONE}/history", None),
        ("POST", f"/api/tables/{GONE}/rows/{GONE}/history", {"historyEntryId": GONE}),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json() == {"error": "Table not found"}, (method, path)


def test_create_is_validated(client):
    assert client.post("/api/tables", json={"name": " "}).json() == {"error": "name must not be blank"}
    for bad in ({}, {"name": ""}, {"name": "x" * 257}, {"name": "t", "description": "d" * 1025},
                {"name": "t", "source": "stolen"}, {"name": "t", "columns": "title"}):
        r = client.post("/api/tables", json=bad)
        assert r.status_code == 400 and "fieldErrors" in r.json()["error"], bad
    assert client.post("/api/tables", json={"name": "t", "projectId": GONE}).json() == {"error": "Project not found"}
    refusals = {
        "columns[0]: dataType must be one of": [{"name": "a", "dataType": "money"}],
        "columns[1]: Column 'a' already exists": [{"name": "a", "dataType": "text"}, {"name": "a", "dataType": "text"}],
        "may not contain quotes": [{"name": 'a"b', "dataType": "text"}],
        "a relation column needs config.targetTableId": [{"name": "r", "dataType": "relation"}],
        "config.displayColumn must be a column name": [{"name": "r", "dataType": "relation",
                                                        "config": {"targetTableId": "t", "displayColumn": {"a": 1}}}],
        "a computed column needs config.formula": [{"name": "c", "dataType": "computed"}],
        "defaultValue: expected a number": [{"name": "n", "dataType": "number", "defaultValue": "many"}],
        "invalid formula: unexpected end of formula": [{"name": "c", "dataType": "computed",
                                                        "config": {"formula": "1 +"}}],
        "Computed columns depend on each other in a cycle: 'a', 'b'": [
            {"name": "a", "dataType": "computed", "config": {"formula": "{{b}} + 1"}},
            {"name": "b", "dataType": "computed", "config": {"formula": "{{a}} * 2"}}],
        "columns[0].name": [{"dataType": "text"}],
    }
    for message, columns in refusals.items():
        r = client.post("/api/tables", json={"name": "t", "columns": columns})
        assert r.status_code == 400 and message in r.json()["error"], (message, r.text)
    assert client.get("/api/tables").json() == []  # nothing was created by a refusal


def test_columns_added_with_types_and_reordered(client):
    table = make_table(client)
    rows = client.post(f"/api/tables/{table['id']}/rows", json={"rows": [
        {"data": {"title": "a", "amount": 2}}, {"data": {"title": "b"}}]}).json()
    r = client.post(f"/api/tables/{table['id']}/columns", json={
        "name": "double", "displayName": "Double", "dataType": "computed",
        "config": {"formula": "{{amount}} * 2", "formulaType": "arithmetic", "resultType": "number"}})
    assert r.status_code == 201 and r.json()["position"] == 2 and r.json()["config"]["formula"] == "{{amount}} * 2"
    data = {row["id"]: row["data"] for row in client.get(f"/api/tables/{table['id']}/rows").json()}
    assert data[rows[0]["id"]]["double"] == 4 and "double" not in data[rows[1]["id"]]  # filled into existing rows

    for bad, message in [
        ({"name": "double", "displayName": "D", "dataType": "text"}, "Column 'double' already exists"),
        ({"name": "x", "displayName": "X", "dataType": "blob"}, "dataType must be one of"),
        ({"name": "loop", "displayName": "L", "dataType": "computed", "config": {"formula": "{{loop}} + 1"}},
         "cycle: 'loop'"),
        ({"name": "y", "displayName": "Y", "dataType": "computed", "config": {"formula": "{{nothing}}"}},
         "unknown column"),
        ({"displayName": "Y", "dataType": "text"}, "name"),
    ]:
        r = client.post(f"/api/tables/{table['id']}/columns", json=bad)
        assert r.status_code == 400 and message in r.json()["error"], (bad, r.text)
    for kind in ("text", "number", "date", "boolean", "url", "email"):
        assert client.post(f"/api/tables/{table['id']}/columns", json={
            "name": f"c_{kind}", "displayName": kind.title(), "dataType": kind}).status_code == 201
    assert client.post(f"/api/tables/{table['id']}/columns", json={
        "name": "stage", "displayName": "Stage", "dataType": "select",
        "config": {"options": ["lead", "won"]}}).status_code == 201

    columns = client.get(f"/api/tables/{table['id']}").json()["columns"]
    ids = [c["id"] for c in columns]
    r = client.patch(f"/api/tables/{table['id']}/columns", json={"columnIds": [ids[2], ids[0]]})
    assert r.status_code == 200
    assert [c["id"] for c in r.json()] == [ids[2], ids[0], ids[1], *ids[3:]]
    assert [c["position"] for c in r.json()] == list(range(len(ids)))
    assert [c["name"] for c in json.loads(client.get(f"/api/tables/{table['id']}").json()["columnSchema"])][:2] == \
        ["double", "title"]
    assert client.patch(f"/api/tables/{table['id']}/columns", json={"columnIds": []}).status_code == 400
    assert client.patch(f"/api/tables/{table['id']}/columns", json={"columnIds": ["ghost"]}).status_code == 400
    assert client.patch(f"/api/tables/{table['id']}/columns", json={"columnIds": [ids[0], ids[0]]}).status_code == 400


def test_relation_columns_resolve_the_display_column(client):
    clients = make_table(client, "Clients", [{"name": "company", "displayName": "Company", "dataType": "text"}])
    acme, globex = client.post(f"/api/tables/{clients['id']}/rows", json={"rows": [
        {"data": {"company": "Acme"}}, {"data": {"company": "Globex"}}]}).json()
    deals = make_table(client, "Deals", [
        {"name": "title", "displayName": "Title", "dataType": "text"},
        {"name": "client", "displayName": "Client", "dataType": "relation",
         "config": {"targetTableId": clients["id"], "displayColumn": "company"}},
        {"name": "partners", "displayName": "Partners", "dataType": "relation",
         "config": {"targetTableId": clients["id"], "displayColumn": "company"}},
    ])
    client.post(f"/api/tables/{deals['id']}/rows", json={"rows": [
        {"data": {"title": "Big", "client": acme["id"], "partners": [globex["id"], acme["id"], "gone"]}},
        {"data": {"title": "None"}}]})
    rows = client.get(f"/api/tables/{deals['id']}/rows").json()
    assert rows[0]["data"]["client"] == acme["id"]  # the stored value is the row id
    assert rows[0]["display"] == {"client": "Acme", "partners": ["Globex", "Acme", None]}
    assert "display" not in rows[1]
    r = client.post(f"/api/tables/{deals['id']}/rows", json={"rows": [{"data": {"client": {"id": 1}}}]})
    assert r.status_code == 400 and "column 'client'" in r.json()["error"]

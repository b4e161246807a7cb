"""Saved charts (bar, line, pie, scatter, aggregated by the daemon) and table templates: the
built-in ones in five categories, a table created from one, a user template saved from a table."""

from __future__ import annotations

COLUMNS = [{"name": "region", "displayName": "Region", "dataType": "text"},
           {"name": "amount", "displayName": "Amount", "dataType": "number"},
           {"name": "units", "displayName": "Units", "dataType": "number"},
           {"name": "day", "displayName": "Day", "dataType": "date"}]
ROWS = [{"region": "north", "amount": 10, "units": 1, "day": "2026-01-01"},
        {"region": "south", "amount": 5, "units": 2, "day": "2026-01-02"},
        {"region": "north", "amount": 7.5, "units": 3, "day": "2026-01-02"},
        {"region": "east", "amount": "", "units": 4, "day": "2026-01-03"},
        {"amount": 1, "units": 5, "day": "2026-01-03"}]


def sales(client) -> dict:
    table = client.post("/api/tables", json={"name": "Sales", "columns": COLUMNS}).json()
    rows = [{"data": {k: v for k, v in r.items() if v != ""}} for r in ROWS]
    assert client.post(f"/api/tables/{table['id']}/rows", json={"rows": rows}).status_code == 201
    return table


def charts(client, table_id) -> dict:
    r = client.get(f"/api/tables/{table_id}/charts")
    assert r.status_code == 200, r.text
    return {c["name"]: c for c in r.json()}


def test_charts_are_saved_and_aggregated(client):
    table = sales(client)
    base = f"/api/tables/{table['id']}/charts"
    specs = [{"type": "bar", "title": "Amount by region", "xColumn": "region", "yColumn": "amount", "aggregation": "sum"},
             {"type": "pie", "title": "Rows by region", "xColumn": "region"},
             {"type": "line", "title": "Average units per day", "xColumn": "day", "yColumn": "units",
              "aggregation": "avg"},
             {"type": "scatter", "title": "Units vs amount", "xColumn": "units", "yColumn": "amount"}]
    for spec in specs:
        r = client.post(base, json=spec)
        assert r.status_code == 201, r.text
        assert set(r.json()) == {"id", "name"} and r.json()["name"] == spec["title"]
    saved = charts(client, table["id"])
    bar = saved["Amount by region"]
    assert bar["type"] == "chart" and bar["tableId"] == table["id"]
    assert bar["config"] == {"type": "bar", "title": "Amount by region", "xColumn": "region", "yColumn": "amount",
                             "aggregation": "sum"}
    assert bar["data"] == {"labels": ["east", "north", "south", "(empty)"], "values": [0, 17.5, 5, 1]}
    assert saved["Rows by region"]["config"]["aggregation"] == "count"
    assert saved["Rows by region"]["data"] == {"labels": ["north", "(empty)", "east", "south"], "values": [2, 1, 1, 1]}
    assert saved["Average units per day"]["data"] == {"labels": ["2026-01-01", "2026-01-02", "2026-01-03"],
                                                      "values": [1, 2.5, 4.5]}
    assert saved["Units vs amount"]["data"] == {"points": [[1, 10], [2, 5], [3, 7.5], [5, 1]]}


def test_chart_edit_merges_config_and_delete(client):
    table = sales(client)
    base = f"/api/tables/{table['id']}/charts"
    chart_id = client.post(base, json={"type": "bar", "title": "By region", "xColumn": "region"}).json()["id"]
    r = client.patch(f"{base}/{chart_id}", json={"yColumn": "units", "aggregation": "max"})
    assert r.status_code == 200, r.text
    assert r.json()["config"] == {"type": "bar", "title": "By region", "xColumn": "region", "yColumn": "units",
                                  "aggregation": "max"}
    assert r.json()["data"]["values"] == [4, 3, 2, 5]
    r = client.patch(f"{base}/{chart_id}", json={"title": "Renamed", "type": "line"})
    assert r.json()["name"] == "Renamed" and r.json()["config"]["type"] == "line"
    assert client.delete(f"{base}/{chart_id}").status_code == 204
    assert client.get(base).json() == []
    assert client.delete(f"{base}/{chart_id}").status_code == 404


def test_chart_refusals(client):
    table = sales(client)
    base = f"/api/tables/{table['id']}/charts"
    for bad, words in (({"type": "radar", "title": "t", "xColumn": "region"}, "type"),
                       ({"type": "bar", "title": "t", "xColumn": "nope"}, "unknown column"),
                       ({"type": "bar", "title": "t", "xColumn": "region", "aggregation": "sum"}, "yColumn"),
                       ({"type": "bar", "title": "t", "xColumn": "region", "yColumn": "day"}, "not a number"),
                       ({"type": "scatter", "title": "t", "xColumn": "region", "yColumn": "amount"}, "not a number"),
                       ({"type": "bar", "xColumn": "region"}, "title")):
        r = client.post(base, json=bad)
        assert r.status_code == 400 and words in r.text, (bad, r.text)
    assert client.get(base).json() == []
    chart_id = client.post(base, json={"type": "bar", "title": "t", "xColumn": "region"}).json()["id"]
    assert client.patch(f"{base}/{chart_id}", json={"xColumn": "nope"}).status_code == 400
    for r in (client.get("/api/tables/nope/charts"), client.post("/api/tables/nope/charts", json={}),
              client.patch(f"/api/tables/nope/charts/{chart_id}", json={}),
              client.delete(f"/api/tables/nope/charts/{chart_id}")):
        assert r.status_code == 404 and r.json() == {"error": "Table not found"}
    for r in (client.patch(f"{base}/nope", json={"title": "x"}), client.delete(f"{base}/nope")):
        assert r.status_code == 404 and r.json() == {"error": "Chart not found"}


# ---- templates ------------------------------------------------------------------------------------

def test_templates_in_five_categories_with_a_clients_table(client):
    r = client.get("/api/tables/templates")
    assert r.status_code == 200, r.text
    templates = r.json()
    assert {t["category"] for t in templates} == {"business", "personal", "pm", "finance", "content"}
    assert all(t["scope"] == "system" for t in templates)
    clients = next(t for t in templates if t["name"] == "Clients")
    assert clients["category"] == "business"
    assert {"name", "email", "status"} <= {c["name"] for c in clients["columnSchema"]}
    finance = client.get("/api/tables/templates", params={"category": "finance"}).json()
    assert finance and all(t["category"] == "finance" for t in finance)
    assert client.get("/api/tables/templates", params={"scope": "user"}).json() == []
    assert client.get("/api/tables/templates", params={"category": "sports"}).status_code == 400
    assert client.get("/api/tables/templates", params={"scope": "team"}).status_code == 400


def test_a_table_from_a_template_with_and_without_samples(client):
    r = client.post("/api/tables", json={"templateId": "tpl-clients", "name": "My clients", "includeSampleData": True})
    assert r.status_code == 201, r.text
    table = r.json()
    assert table["source"] == "template" and table["templateId"] == "tpl-clients"
    assert [c["name"] for c in table["columns"]][:3] == ["name", "company", "email"]
    rows = client.get(f"/api/tables/{table['id']}/rows").json()
    assert len(rows) == 3 and rows[0]["data"]["company"] == "Analytical Engines Ltd"
    empty = client.post("/api/tables", json={"templateId": "tpl-expenses", "name": "Spend"}).json()
    assert client.get(f"/api/tables/{empty['id']}/rows").json() == []
    r = client.post("/api/tables", json={"templateId": "tpl-nope", "name": "x"})
    assert r.status_code == 404


def test_a_user_template_saved_from_a_table(client):
    table = sales(client)
    r = client.post("/api/tables/templates", json={"tableId": table["id"], "name": "Regional sales",
                                                   "category": "finance", "includeSampleData": True})
    assert r.status_code == 201, r.text
    saved = r.json()
    assert set(saved) == {"id", "name"} and saved["name"] == "Regional sales"
    [mine] = client.get("/api/tables/templates", params={"scope": "user"}).json()
    assert mine["id"] == saved["id"] and mine["category"] == "finance" and mine["scope"] == "user"
    assert [c["name"] for c in mine["columnSchema"]] == ["region", "amount", "units", "day"]
    assert len(mine["sampleData"]) == 5
    copy = client.post("/api/tables", json={"templateId": saved["id"], "name": "Sales 2027",
                                            "includeSampleData": True}).json()
    assert [c["dataType"] for c in copy["columns"]] == ["text", "number", "number", "date"]
    assert len(client.get(f"/api/tables/{copy['id']}/rows").json()) == 5

    r = client.post("/api/tables/templates", json={"tableId": "nope", "name": "x"})
    assert r.status_code == 404 and r.json() == {"error": "Table not found"}
    for bad in ({"tableId": table["id"]}, {"tableId": table["id"], "name": "x", "category": "sports"},
                {"tableId": table["id"], "name": "   "}):
        assert client.post("/api/tables/templates", json=bad).status_code == 400
    assert len(client.get("/api/tables/templates", params={"scope": "user"}).json()) == 1

"""/api/tables/{id}/rows…, /history over real HTTP: rows with `data` as an object, filters and
sorts as query JSON, PATCH merging (null removes a key), 404s for unknown rows, history per table
and per row, rollback of an update and of a delete."""

from __future__ import annotations

import json

from tests.api.test_tables import GONE, make_table


def add(client, table_id, *datas, created_by=None):
    rows = [{"data": d, **({"createdBy": created_by} if created_by else {})} for d in datas]
    r = client.post(f"/api/tables/{table_id}/rows", json={"rows": rows})
    assert r.status_code == 201, r.text
    return r.json()


def test_insert_query_update_delete(client):
    table = make_table(client)
    first, second = add(client, table["id"], {"title": "Alpha", "amount": "12"}, {"title": "Beta"}, created_by="agent")
    assert first["data"] == {"title": "Alpha", "amount": 12} and first["createdBy"] == "agent"
    assert first["tableId"] == table["id"] and [first["position"], second["position"]] == [0, 1]
    [third] = add(client, table["id"], {"title": "Gamma", "amount": 3})
    assert third["createdBy"] == "user"
    assert client.get(f"/api/tables/{table['id']}").json()["rowCount"] == 3

    rows = client.get(f"/api/tables/{table['id']}/rows").json()
    assert [r["data"]["title"] for r in rows] == ["Alpha", "Beta", "Gamma"] and isinstance(rows[0]["data"], dict)
    q = {"filters": json.dumps([{"column": "amount", "operator": "gte", "value": 3}]),
         "sorts": json.dumps([{"column": "amount", "direction": "asc"}])}
    assert [r["data"]["title"] for r in client.get(f"/api/tables/{table['id']}/rows", params=q).json()] == \
        ["Gamma", "Alpha"]
    huge = json.dumps([{"column": "amount", "operator": "lt", "value": 10**30},
                       {"column": "title", "operator": "in", "value": [10**25, "Gamma"]}])
    assert [r["data"]["title"] for r in client.get(f"/api/tables/{table['id']}/rows",
                                                   params={"filters": huge}).json()] == ["Gamma"]
    page = client.get(f"/api/tables/{table['id']}/rows", params={"limit": 1, "offset": 2}).json()
    assert [r["data"]["title"] for r in page] == ["Gamma"]
    for params, message in [({"filters": "[{"}, "Invalid filters JSON"), ({"limit": 0}, "limit"),
                            ({"limit": 1001}, "limit"), ({"offset": -1}, "offset"), ({"offset": 10**20}, "offset"), ({"limit": "many"}, "limit"),
                            ({"filters": json.dumps([{"column": "nope", "operator": "eq", "value": 1}])},
                             "unknown column 'nope'"),
                            ({"sorts": json.dumps([{"column": "title", "direction": "up"}])}, "direction")]:
        r = client.get(f"/api/tables/{table['id']}/rows", params=params)
        assert r.status_code == 400 and message in r.json()["error"], (params, r.text)

    r = client.patch(f"/api/tables/{table['id']}/rows/{first['id']}", json={"data": {"amount": 13}})
    assert r.status_code == 200 and r.json()["data"] == {"title": "Alpha", "amount": 13}  # merged
    r = client.patch(f"/api/tables/{table['id']}/rows/{first['id']}", json={"data": {"amount": None}})
    assert r.json()["data"] == {"title": "Alpha"}  # null removes the key
    r = client.patch(f"/api/tables/{table['id']}/rows/{first['id']}", json={"data": json.dumps({"amount": 1})})
    assert r.json()["data"] == {"title": "Alpha", "amount": 1}  # a JSON string of an object is read too
    for bad in ({}, {"data": 5}, {"data": {"amount": "lots"}}, {"data": {"title": None}}, {"data": {"ghost": 1}}):
        r = client.patch(f"/api/tables/{table['id']}/rows/{first['id']}", json=bad)
        assert r.status_code == 400, bad
    assert client.patch(f"/api/tables/{table['id']}/rows/{GONE}", json={"data": {}}).json() == \
        {"error": "Row not found"}
    other = make_table(client, "Other")
    assert client.patch(f"/api/tables/{other['id']}/rows/{first['id']}", json={"data": {}}).status_code == 404

    r = client.delete(f"/api/tables/{table['id']}/rows/{second['id']}")
    assert r.status_code == 204 and r.content == b""
    assert client.delete(f"/api/tables/{table['id']}/rows/{second['id']}").status_code == 404
    assert client.delete(f"/api/tables/{other['id']}/rows/{first['id']}").status_code == 404
    assert client.get(f"/api/tables/{table['id']}").json()["rowCount"] == 2


def test_inserts_are_validated_as_a_batch(client):
    table = make_table(client)
    for body, message in [
        ({"rows": []}, "rows"), ({"rows": [{"data": {"title": "x"}}] * 1001}, "rows"), ({}, "rows"),
        ({"rows": [{"data": {"title": "ok"}}, {"data": {"amount": 1}}]}, "rows[1]: required column(s) missing: 'title'"),
        ({"rows": [{"data": {"title": "ok", "amount": "much"}}]}, "rows[0]: column 'amount': expected a number"),
        ({"rows": [{"data": {"title": "ok", "nope": 1}}]}, "rows[0]: unknown column 'nope'"),
        ({"rows": [{"data": [1, 2]}]}, "rows[0]: data must be an object"),
        ({"rows": [{"data": {"title": "ok"}, "createdBy": ""}]}, "Too small"),
    ]:
        r = client.post(f"/api/tables/{table['id']}/rows", json=body)
        assert r.status_code == 400, body
        error = r.json()["error"]
        assert message in (error if isinstance(error, str) else json.dumps(error)), (body, error)
    assert client.get(f"/api/tables/{table['id']}/rows").json() == []  # a refused batch adds nothing
    assert len(add(client, table["id"], *[{"title": str(i)} for i in range(1000)])) == 1000


def test_each_column_type_is_stored_in_its_json_type(client):
    table = make_table(client, "Typed", [
        {"name": "t", "displayName": "T", "dataType": "text"},
        {"name": "n", "displayName": "N", "dataType": "number"},
        {"name": "d", "displayName": "D", "dataType": "date"},
        {"name": "b", "displayName": "B", "dataType": "boolean"},
        {"name": "s", "displayName": "S", "dataType": "select", "config": {"options": ["a", "b"]}},
        {"name": "u", "displayName": "U", "dataType": "url"},
        {"name": "e", "displayName": "E", "dataType": "email"},
        {"name": "c", "displayName": "C", "dataType": "computed",
         "config": {"formula": 'concat({{t}}, "-", {{n}})', "formulaType": "text_concat"}},
        {"name": "days", "displayName": "Days", "dataType": "computed",
         "config": {"formula": 'daysBetween({{d}}, "2026-01-11")', "formulaType": "date_diff"}},
    ])
    [row] = add(client, table["id"], {"t": 7, "n": "1,250.5", "d": "2026-01-01", "b": "yes", "s": "b",
                                      "u": "https://example.com/x", "e": "me@example.com", "c": "ignored"})
    assert row["data"] == {"t": "7", "n": 1250.5, "d": "2026-01-01", "b": True, "s": "b",
                           "u": "https://example.com/x", "e": "me@example.com", "c": "7-1250.5", "days": 10}
    for cell, message in [({"n": True}, "expected a number"), ({"d": "yesterday"}, "expected an ISO date"),
                          ({"b": "maybe"}, "expected true or false"), ({"s": "c"}, "expected one of a, b"),
                          ({"u": "javascript:alert(1)"}, "expected a URL"), ({"e": "nobody"}, "expected an email")]:
        r = client.post(f"/api/tables/{table['id']}/rows", json={"rows": [{"data": cell}]})
        assert r.status_code == 400 and message in r.json()["error"], (cell, r.text)
    filtered = client.get(f"/api/tables/{table['id']}/rows", params={
        "filters": json.dumps([{"column": "days", "operator": "eq", "value": 10},
                               {"column": "b", "operator": "eq", "value": True}])}).json()
    assert [r["id"] for r in filtered] == [row["id"]]


def test_history_per_table_and_row_and_rollback(client):
    table = make_table(client)
    row, other = add(client, table["id"], {"title": "v1", "amount": 1}, {"title": "other"})
    client.patch(f"/api/tables/{table['id']}/rows/{row['id']}", json={"data": {"title": "v2"}})
    client.patch(f"/api/tables/{table['id']}/rows/{row['id']}", json={"data": {"title": "v3", "amount": None}})
    client.delete(f"/api/tables/{table['id']}/rows/{other['id']}")

    history = client.get(f"/api/tables/{table['id']}/history").json()
    assert [(h["rowId"], h["changeType"]) for h in history] == [
        (other["id"], "delete"), (row["id"], "update"), (row["id"], "update")]  # newest first
    assert json.loads(history[1]["previousData"]) == {"title": "v2", "amount": 1}  # a JSON string
    assert history[0]["changedBy"] == "user" and history[0]["tableId"] == table["id"]
    assert len(client.get(f"/api/tables/{table['id']}/history", params={"limit": 1}).json()) == 1
    assert client.get(f"/api/tables/{table['id']}/history", params={"limit": 501}).status_code == 400

    row_history = client.get(f"/api/tables/{table['id']}/rows/{row['id']}/history").json()
    assert [json.loads(h["previousData"])["title"] for h in row_history] == ["v2", "v1"]
    assert client.get(f"/api/tables/{table['id']}/rows/{row['id']}/history", params={"limit": 201}).status_code == 400
    assert client.get(f"/api/tables/{table['id']}/rows/{GONE}/history").json() == {"error": "Row not found"}

    oldest = row_history[-1]["id"]
    r = client.post(f"/api/tables/{table['id']}/rows/{row['id']}/history", json={"historyEntryId": oldest})
    assert r.status_code == 200 and r.json() == {"ok": True}
    now = next(r for r in client.get(f"/api/tables/{table['id']}/rows").json() if r["id"] == row["id"])
    assert now["data"] == {"title": "v1", "amount": 1}
    undo = client.get(f"/api/tables/{table['id']}/rows/{row['id']}/history").json()[0]
    assert json.loads(undo["previousData"])["title"] == "v3"  # the rollback itself can be undone

    deleted = client.get(f"/api/tables/{table['id']}/rows/{other['id']}/history").json()  # a deleted row's history
    r = client.post(f"/api/tables/{table['id']}/rows/{other['id']}/history", json={"historyEntryId": deleted[0]["id"]})
    assert r.status_code == 200
    assert other["id"] in [r["id"] for r in client.get(f"/api/tables/{table['id']}/rows").json()]
    assert client.get(f"/api/tables/{table['id']}").json()["rowCount"] == 2

    for row_id, body, status in [
        (row["id"], {"historyEntryId": GONE}, 404),
        (row["id"], {"historyEntryId": deleted[0]["id"]}, 404),  # another row's entry
        (GONE, {"historyEntryId": oldest}, 404),
        (row["id"], {}, 400),
    ]:
        r = client.post(f"/api/tables/{table['id']}/rows/{row_id}/history", json=body)
        assert r.status_code == status, (row_id, body, r.text)

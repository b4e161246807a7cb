"""Import a CSV, TSV or XLSX document into a table (preview, inferred types, column mapping,
per-row errors) and export a table as CSV, JSON or XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.helpers.table_documents import add_document, xlsx_bytes

PEOPLE = (b"Name,Age,Joined,Email,Active\n"
          b"Ada,36,2026-01-05,ada@example.com,yes\n"
          b"Grace,45,2026-02-11,grace@example.com,no\n"
          b"Alan,41,2026-03-20,alan@example.com,true\n")


def make_table(client, name="People", columns=None) -> dict:
    r = client.post("/api/tables", json={"name": name, "columns": columns or []})
    assert r.status_code == 201, r.text
    return r.json()


def all_rows(client, table_id) -> list[dict]:
    r = client.get(f"/api/tables/{table_id}/rows", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return [row["data"] for row in r.json()]


def test_preview_shows_headers_samples_and_inferred_types(daemon, client):
    table = make_table(client)
    doc = add_document(daemon, PEOPLE, "people.csv")
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc, "preview": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["headers"] == ["Name", "Age", "Joined", "Email", "Active"]
    assert body["totalRows"] == 3
    assert body["sampleRows"][0] == {"Name": "Ada", "Age": "36", "Joined": "2026-01-05",
                                     "Email": "ada@example.com", "Active": "yes"}
    types = {c["displayName"]: (c["name"], c["dataType"]) for c in body["inferredColumns"]}
    assert types == {"Name": ("name", "text"), "Age": ("age", "number"), "Joined": ("joined", "date"),
                     "Email": ("email", "email"), "Active": ("active", "boolean")}
    assert all_rows(client, table["id"]) == []  # a preview imports nothing


def test_preview_keeps_ten_sample_rows(daemon, client):
    table = make_table(client)
    doc = add_document(daemon, ("n\n" + "".join(f"{i}\n" for i in range(25))).encode(), "n.csv")
    body = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc, "preview": True}).json()
    assert body["totalRows"] == 25 and len(body["sampleRows"]) == 10


def test_import_into_an_empty_table_creates_typed_columns(daemon, client):
    table = make_table(client)
    doc = add_document(daemon, PEOPLE, "people.csv")
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rowsImported"] == 3 and body["rowsSkipped"] == 0 and body["errors"] == []
    assert body["importId"]
    assert [(c["name"], c["dataType"]) for c in body["columns"]] == [
        ("name", "text"), ("age", "number"), ("joined", "date"), ("email", "email"), ("active", "boolean")]
    rows = all_rows(client, table["id"])
    assert rows[0] == {"name": "Ada", "age": 36, "joined": "2026-01-05", "email": "ada@example.com", "active": True}
    assert rows[1]["active"] is False
    fetched = client.get(f"/api/tables/{table['id']}").json()
    assert fetched["rowCount"] == 3 and fetched["source"] == "imported"
    # the rows are real: a filter on the imported number column runs
    r = client.get(f"/api/tables/{table['id']}/rows",
                   params={"filters": '[{"column":"age","operator":"gt","value":40}]'})
    assert sorted(row["data"]["name"] for row in r.json()) == ["Alan", "Grace"]


def test_bad_rows_are_reported_and_good_rows_kept(daemon, client):
    table = make_table(client, columns=[
        {"name": "item", "displayName": "Item", "dataType": "text", "required": True},
        {"name": "qty", "displayName": "Quantity", "dataType": "number"},
        {"name": "kind", "displayName": "Kind", "dataType": "select", "config": {"options": ["a", "b"]}},
    ])
    text = "Item,Quantity,Kind\npen,3,a\nink,lots,b\n,4,a\npad,5,c\nbook,7,b\n"
    doc = add_document(daemon, text.encode(), "stock.csv")
    mapping = [{"name": "item", "displayName": "Item", "dataType": "text"},
               {"name": "qty", "displayName": "Quantity", "dataType": "number"},
               {"name": "kind", "displayName": "Kind", "dataType": "select"}]
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc, "columnMapping": mapping})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rowsImported"] == 2 and body["rowsSkipped"] == 3
    assert [e["row"] for e in body["errors"]] == [3, 4, 5]  # line numbers, the header is line 1
    assert "qty" in body["errors"][0]["error"] and "lots" in body["errors"][0]["error"]
    assert "required" in body["errors"][1]["error"]
    assert "kind" in body["errors"][2]["error"]
    assert [r["item"] for r in all_rows(client, table["id"])] == ["pen", "book"]


def test_only_the_first_twenty_errors_are_listed(daemon, client):
    table = make_table(client, columns=[{"name": "n", "displayName": "N", "dataType": "number"}])
    text = "N\n" + "".join(f"{i}\nbad{i}\n" for i in range(30))
    doc = add_document(daemon, text.encode(), "n.csv")
    body = client.post(f"/api/tables/{table['id']}/import",
                       json={"documentId": doc, "columnMapping": [{"name": "n", "dataType": "number"}]}).json()
    assert body["rowsImported"] == 30 and body["rowsSkipped"] == 30 and len(body["errors"]) == 20


def test_mapping_skips_renames_and_types_columns(daemon, client):
    table = make_table(client)
    doc = add_document(daemon, PEOPLE, "people.csv")
    mapping = [{"name": "who", "displayName": "Who", "dataType": "text"},
               {"name": "age_text", "displayName": "Age", "dataType": "text"},
               {"skip": True}, {"skip": True},
               {"name": "on", "displayName": "Active", "dataType": "boolean"}]
    body = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc, "columnMapping": mapping}).json()
    assert [c["name"] for c in body["columns"]] == ["who", "age_text", "on"]
    assert all_rows(client, table["id"])[2] == {"who": "Alan", "age_text": "41", "on": True}
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc, "columnMapping": mapping[:2]})
    assert r.status_code == 400 and "one entry per file column" in r.json()["error"]


def test_tsv_and_xlsx_documents(daemon, client):
    table = make_table(client, "Tabbed")
    doc = add_document(daemon, b"City\tPopulation\nOslo\t709037\nBergen\t291940\n", "cities.tsv")
    body = client.post(f"/api/tables/{table['id']}/import", json={"documentId": doc}).json()
    assert body["rowsImported"] == 2
    assert all_rows(client, table["id"])[0] == {"city": "Oslo", "population": 709037}

    from datetime import datetime
    sheet = xlsx_bytes([["Product", "Price", "Launched", "Sold out"],
                        ["Lamp", 19.5, datetime(2026, 4, 1), False], ["Desk", 240, datetime(2026, 5, 2), True]])
    book = make_table(client, "Sheet")
    doc = add_document(daemon, sheet, "products.xlsx")
    preview = client.post(f"/api/tables/{book['id']}/import", json={"documentId": doc, "preview": True}).json()
    assert [c["dataType"] for c in preview["inferredColumns"]] == ["text", "number", "date", "boolean"]
    body = client.post(f"/api/tables/{book['id']}/import", json={"documentId": doc}).json()
    assert body["rowsImported"] == 2
    assert all_rows(client, book["id"])[0] == {"product": "Lamp", "price": 19.5, "launched": "2026-04-01",
                                               "sold_out": False}


def test_import_refusals_are_4xx_and_change_nothing(daemon, client):
    table = make_table(client)
    doc = add_document(daemon, PEOPLE, "people.csv")
    r = client.post("/api/tables/nope/import", json={"documentId": doc})
    assert r.status_code == 404 and r.json() == {"error": "Table not found"}
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": "nope"})
    assert r.status_code == 404 and r.json() == {"error": "Document not found"}
    pdf = add_document(daemon, b"%PDF-1.4", "report.pdf")
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": pdf})
    assert r.status_code == 400 and "Unsupported file type" in r.json()["error"]
    broken = add_document(daemon, b"not a zip", "broken.xlsx")
    r = client.post(f"/api/tables/{table['id']}/import", json={"documentId": broken})
    assert r.status_code == 400 and "XLSX" in r.json()["error"]
    empty = add_document(daemon, b"", "empty.csv")
    assert client.post(f"/api/tables/{table['id']}/import", json={"documentId": empty}).status_code == 400
    assert client.post(f"/api/tables/{table['id']}/import", json={}).status_code == 400
    assert client.get(f"/api/tables/{table['id']}").json()["columns"] == []


# ---- export ---------------------------------------------------------------------------------------

def filled_table(client) -> dict:
    table = make_table(client, "Q3 ünits", columns=[
        {"name": "item", "displayName": "Item", "dataType": "text"},
        {"name": "qty", "displayName": "Quantity", "dataType": "number"},
        {"name": "ok", "displayName": "OK", "dataType": "boolean"}])
    rows = [{"data": {"item": "pen", "qty": 3, "ok": True}}, {"data": {"item": "=cmd()", "qty": 1.5}}]
    assert client.post(f"/api/tables/{table['id']}/rows", json={"rows": rows}).status_code == 201
    return table


def test_export_csv_json_and_xlsx(client):
    table = filled_table(client)
    r = client.get(f"/api/tables/{table['id']}/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="Q3 _nits.csv"')
    assert "filename*=UTF-8''Q3%20%C3%BCnits.csv" in r.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert lines == [["Item", "Quantity", "OK"], ["pen", "3", "True"], ["'=cmd()", "1.5", ""]]

    r = client.get(f"/api/tables/{table['id']}/export", params={"format": "json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == [{"item": "pen", "qty": 3, "ok": True}, {"item": "=cmd()", "qty": 1.5}]

    r = client.get(f"/api/tables/{table['id']}/export", params={"format": "xlsx"})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith('attachment; filename="Q3 _nits.xlsx"')
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Item", "Quantity", "OK"], ["pen", 3, True], ["=cmd()", 1.5, None]]
    assert sheet["A3"].data_type == "s"  # text, not a formula a spreadsheet would run


def test_an_export_imports_back(daemon, client):
    table = filled_table(client)
    exported = client.get(f"/api/tables/{table['id']}/export", params={"format": "xlsx"}).content
    copy = make_table(client, "Copy")
    doc = add_document(daemon, exported, "copy.xlsx")
    assert client.post(f"/api/tables/{copy['id']}/import", json={"documentId": doc}).json()["rowsImported"] == 2
    assert all_rows(client, copy["id"])[0] == {"item": "pen", "quantity": 3, "ok": True}


def test_export_refusals(client):
    table = filled_table(client)
    r = client.get(f"/api/tables/{table['id']}/export", params={"format": "pdf"})
    assert r.status_code == 400 and "format" in r.json()["error"]
    r = client.get("/api/tables/nope/export")
    assert r.status_code == 404 and r.json() == {"error": "Table not found"}

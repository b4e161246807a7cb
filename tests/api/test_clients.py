"""/api/ai-agent/clients: the workspace's clients, CSV import, isolation, and the Lars envelope."""

from __future__ import annotations

import re

import httpx
import pytest

CLIENTS = "/api/ai-agent/clients"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def lars_client(daemon, workspace: str = "default", key: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=daemon.url, timeout=30,
                        headers={"X-API-Key": key or daemon.api_key, "X-Workspace-Id": workspace})


@pytest.fixture
def lars(daemon):
    with lars_client(daemon) as client:
        yield client


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    return body["error"]


def data_of(response, status: int = 200):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def new_project(daemon, name: str = "Acme workspace") -> str:
    response = daemon.client.post("/api/projects", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_create_get_list_update_delete(lars):
    created = data_of(lars.post(CLIENTS, json={
        "name": "Acme Corp", "domain": "https://www.Acme.com/about", "healthScore": 72, "owner": "dana",
        "notes": "renewal in March", "lastContactAt": "2024-01-10T09:00:00Z"}), 201)
    assert {k: created[k] for k in ("name", "domain", "healthScore", "status", "owner", "notes", "lastContactAt",
                                    "workspaceId")} == {
        "name": "Acme Corp", "domain": "acme.com", "healthScore": 72, "status": "active", "owner": "dana",
        "notes": "renewal in March", "lastContactAt": "2024-01-10T09:00:00Z", "workspaceId": "default"}
    client_id = created["id"]
    data_of(lars.post(CLIENTS, json={"name": "Globex", "status": "at_risk"}), 201)

    assert data_of(lars.get(f"{CLIENTS}/{client_id}")) == created
    assert [c["name"] for c in data_of(lars.get(CLIENTS))] == ["Acme Corp", "Globex"]
    assert [c["name"] for c in data_of(lars.get(CLIENTS, params={"q": "acme.c"}))] == ["Acme Corp"]
    assert [c["name"] for c in data_of(lars.get(CLIENTS, params={"status": "at_risk"}))] == ["Globex"]
    assert data_of(lars.get(CLIENTS, params={"q": "%"})) == []  # LIKE wildcards are literal

    updated = data_of(lars.patch(f"{CLIENTS}/{client_id}", json={"healthScore": 40, "status": "at_risk",
                                                                  "owner": None}))
    assert (updated["healthScore"], updated["status"], updated["owner"], updated["name"]) == (40, "at_risk", None,
                                                                                               "Acme Corp")
    assert data_of(lars.delete(f"{CLIENTS}/{client_id}")) == {"id": client_id, "deleted": True}
    error_of(lars.get(f"{CLIENTS}/{client_id}"), 404, "CLIENT_NOT_FOUND")
    error_of(lars.patch(f"{CLIENTS}/{client_id}", json={"notes": "x"}), 404, "CLIENT_NOT_FOUND")
    error_of(lars.delete(f"{CLIENTS}/{client_id}"), 404, "CLIENT_NOT_FOUND")


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "A", "healthScore": 101}, "healthScore"),
    ({"name": "A", "healthScore": "80"}, "healthScore"),
    ({"name": "A", "status": "lost"}, "status"),
    ({"name": "A", "status": None}, "status"),
    ({"name": "A", "domain": "not a domain"}, "domain"),
    ({"name": "A", "lastContactAt": "yesterday"}, "lastContactAt"),
])
def test_invalid_fields_are_400_naming_the_field_and_store_nothing(lars, body, field):
    message = error_of(lars.post(CLIENTS, json=body), 400, "VALIDATION_ERROR")
    assert field in message
    assert data_of(lars.get(CLIENTS)) == []


def test_a_domain_is_unique_in_its_workspace_only(daemon, lars):
    data_of(lars.post(CLIENTS, json={"name": "Acme", "domain": "acme.com"}), 201)
    assert "acme.com" in error_of(lars.post(CLIENTS, json={"name": "Acme 2", "domain": "ACME.com"}), 409,
                                  "CLIENT_EXISTS")
    other = data_of(lars.post(CLIENTS, json={"name": "Other", "domain": "other.com"}), 201)
    error_of(lars.patch(f"{CLIENTS}/{other['id']}", json={"domain": "acme.com"}), 409, "CLIENT_EXISTS")
    with lars_client(daemon, new_project(daemon)) as project:
        data_of(project.post(CLIENTS, json={"name": "Acme", "domain": "acme.com"}), 201)


def test_workspaces_never_see_each_others_clients(daemon, lars):
    project_id = new_project(daemon)
    with lars_client(daemon, project_id) as project:
        mine = data_of(project.post(CLIENTS, json={"name": "Initech"}), 201)
        assert mine["workspaceId"] == project_id
        assert [c["name"] for c in data_of(project.get(CLIENTS))] == ["Initech"]
    assert data_of(lars.get(CLIENTS)) == []
    error_of(lars.get(f"{CLIENTS}/{mine['id']}"), 404, "CLIENT_NOT_FOUND")
    error_of(lars.patch(f"{CLIENTS}/{mine['id']}", json={"notes": "x"}), 404, "CLIENT_NOT_FOUND")
    error_of(lars.delete(f"{CLIENTS}/{mine['id']}"), 404, "CLIENT_NOT_FOUND")


def test_deleting_the_project_deletes_its_workspace_clients(daemon):
    project_id = new_project(daemon)
    with lars_client(daemon, project_id) as project:
        data_of(project.post(CLIENTS, json={"name": "Initech"}), 201)
    assert daemon.client.delete(f"/api/projects/{project_id}").status_code == 200
    with lars_client(daemon, project_id) as project:
        error_of(project.get(CLIENTS), 404, "WORKSPACE_NOT_FOUND")
    import sqlite3
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 0


CSV = """Name,Domain,Health Score,Status,Owner,Last Contact
Acme Corp,acme.com,72,active,dana,2024-01-10
Globex,globex.com,35,at_risk,,
,nameless.com,50,,,
Initech,initech.com,150,,,
Umbrella,umbrella.com,20,exploded,,
Acme again,ACME.com,10,,,
Hooli,,88,onboarding,erlich,
Hooli,,90,,,
"""


def test_csv_import_reports_imported_and_skipped_rows(lars):
    report = data_of(lars.post(f"{CLIENTS}/import", content=CSV, headers={"Content-Type": "text/csv"}))
    assert report["imported"] == 3 and report["skipped"] == 5
    assert [c["name"] for c in report["clients"]] == ["Acme Corp", "Globex", "Hooli"]
    assert report["clients"][0]["healthScore"] == 72 and report["clients"][0]["lastContactAt"] == "2024-01-10"
    reasons = {s["row"]: s["reason"] for s in report["skippedRows"]}
    assert sorted(reasons) == [4, 5, 6, 7, 9]
    assert "name" in reasons[4]
    assert "healthScore" in reasons[5]
    assert "status" in reasons[6]
    assert "duplicate domain 'acme.com'" in reasons[7]
    assert "duplicate name 'Hooli'" in reasons[9]
    assert len(data_of(lars.get(CLIENTS))) == 3

    again = data_of(lars.post(f"{CLIENTS}/import", json={"csv": "name,domain\nAcme Corp,acme.com\nNew Co,new.co\n"}))
    assert (again["imported"], again["skipped"]) == (1, 1)
    assert len(data_of(lars.get(CLIENTS))) == 4


@pytest.mark.parametrize("kwargs,field", [
    ({"json": {}}, "csv"),
    ({"json": {"csv": "domain,owner\nacme.com,dana\n"}}, "csv"),
    ({"content": "   ", "headers": {"Content-Type": "text/csv"}}, "csv"),
    ({"content": b"name\n\xff\xfe", "headers": {"Content-Type": "text/csv"}}, "csv"),
    ({"content": "{not json", "headers": {"Content-Type": "application/json"}}, "Malformed JSON"),
])
def test_a_bad_import_is_400_and_imports_nothing(lars, kwargs, field):
    assert field in error_of(lars.post(f"{CLIENTS}/import", **kwargs), 400, "VALIDATION_ERROR")
    assert data_of(lars.get(CLIENTS)) == []


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_any_line_ending_ends_a_row(lars, newline):
    text = newline.join(["name,domain,notes", f'Acme Corp,acme.com,"first line{newline}second line"',
                         "Globex,globex.com,", ""])
    report = data_of(lars.post(f"{CLIENTS}/import", content=text, headers={"Content-Type": "text/csv"}))
    assert (report["imported"], report["skippedRows"]) == (2, [])
    acme, globex = data_of(lars.get(CLIENTS))
    assert (acme["name"], acme["notes"], globex["name"], globex["domain"]) == (
        "Acme Corp", "first line\nsecond line", "Globex", "globex.com")


@pytest.mark.parametrize("text,reason", [
    ("name,notes\nAcme," + "x" * 140_000 + "\n", "line 2: a cell is longer than 131072 characters"),
    ('name,domain\nGlobex,globex.com\n"Acme,acme.com\nInitech,initech.com\n', "a quoted cell is never closed"),
    ('name,domain\n"Acme"x,acme.com\n', "line 2"),
    ("name,domain,Domain\nAcme,acme.com,acme.org\n", "the header names domain more than once (domain, Domain)"),
    ("Name,Company\nAcme,Acme Corp\n", "the header names name more than once (Name, Company)"),
], ids=["long-cell", "unclosed-quote", "stray-quote", "same-column-twice", "two-names"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text-body", "json-body"])
def test_a_malformed_csv_is_400_naming_the_problem_and_imports_nothing(lars, text, reason, as_json):
    kwargs = {"json": {"csv": text}} if as_json else {"content": text, "headers": {"Content-Type": "text/csv"}}
    response = lars.post(f"{CLIENTS}/import", **kwargs)
    assert reason in error_of(response, 400, "VALIDATION_ERROR")
    assert reason in response.json()["details"]["csv"][0]
    assert data_of(lars.get(CLIENTS)) == []


def test_list_paging_is_bounded(lars):
    data_of(lars.post(CLIENTS, json={"name": "Acme"}), 201)
    assert "offset" in error_of(lars.get(CLIENTS, params={"offset": "99999999999999999999"}), 400,
                                "VALIDATION_ERROR")
    assert "limit" in error_of(lars.get(CLIENTS, params={"limit": "99999999999999999999"}), 400, "VALIDATION_ERROR")
    assert data_of(lars.get(CLIENTS, params={"offset": 10**9})) == []
    assert [c["name"] for c in data_of(lars.get(CLIENTS, params={"offset": 0, "limit": 1}))] == ["Acme"]


def test_reads_need_the_chat_scope_and_changes_the_actions_scope(daemon):
    keys = {}
    for scope in ("ai-agent:chat", "ai-agent:actions"):
        response = daemon.client.post("/api/keys", json={"name": scope, "scopes": [scope]},
                                      headers={"X-API-Key": daemon.api_key})
        keys[scope] = response.json()["key"]
    with lars_client(daemon, key=keys["ai-agent:chat"]) as reader, \
            lars_client(daemon, key=keys["ai-agent:actions"]) as writer:
        created = data_of(writer.post(CLIENTS, json={"name": "Acme"}), 201)
        assert "ai-agent:actions" in error_of(reader.post(CLIENTS, json={"name": "B"}), 403, "INSUFFICIENT_SCOPE")
        error_of(reader.delete(f"{CLIENTS}/{created['id']}"), 403, "INSUFFICIENT_SCOPE")
        assert data_of(reader.get(f"{CLIENTS}/{created['id']}"))["name"] == "Acme"
        error_of(writer.get(CLIENTS), 403, "INSUFFICIENT_SCOPE")
    with httpx.Client(base_url=daemon.url, headers={"X-Workspace-Id": "default"}) as anonymous:
        error_of(anonymous.get(CLIENTS), 401, "UNAUTHORIZED")


def test_client_routes_count_in_their_own_bucket(lars):
    response = lars.get(CLIENTS)
    assert response.headers["X-RateLimit-Limit"] == "120"
    assert int(response.headers["X-RateLimit-Remaining"]) == 119
    assert lars.post(CLIENTS, json={}).headers["X-RateLimit-Remaining"] == "118"  # errors count and carry them

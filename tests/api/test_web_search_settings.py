"""GET/POST /api/settings/web-search: the catalog's exaSearchEnabled toggle, plus the Exa key
(stored, never echoed: hasKey, apiKeySource, maskedKey) and the search API's base URL."""

from __future__ import annotations

import pytest

EXA_KEY = "3f6c2a1e-exa-secret-key-7b9d"
DEFAULTS = {"exaSearchEnabled": False, "hasKey": False, "apiKeySource": "unknown",
            "baseUrl": "https://api.exa.ai"}


@pytest.fixture(autouse=True)
def no_exa_env(monkeypatch):
    monkeypatch.delenv("EXA_API_KEY", raising=False)


def field_errors(response) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"formErrors", "fieldErrors"}
    return error["fieldErrors"]


def test_it_starts_off_without_a_key(client):
    assert client.get("/api/settings/web-search").json() == DEFAULTS


def test_the_key_is_stored_and_only_its_mask_comes_back(client):
    response = client.post("/api/settings/web-search", json={"exaSearchEnabled": True, "apiKey": EXA_KEY})
    assert response.status_code == 200
    expected = {**DEFAULTS, "exaSearchEnabled": True, "hasKey": True, "apiKeySource": "db",
                "maskedKey": "3f6…7b9d"}
    assert response.json() == expected
    read = client.get("/api/settings/web-search")
    assert read.json() == expected
    for text in (response.text, read.text, client.get("/api/openapi.json").text):
        assert EXA_KEY not in text


def test_only_the_fields_sent_change(client):
    client.post("/api/settings/web-search", json={"exaSearchEnabled": True, "apiKey": EXA_KEY})
    body = client.post("/api/settings/web-search", json={"baseUrl": "http://127.0.0.1:9/"}).json()
    assert body["exaSearchEnabled"] is True and body["hasKey"] is True
    assert body["baseUrl"] == "http://127.0.0.1:9"
    body = client.post("/api/settings/web-search", json={"exaSearchEnabled": False}).json()
    assert body["exaSearchEnabled"] is False and body["hasKey"] is True


def test_null_removes_the_key_and_the_base_url(client):
    client.post("/api/settings/web-search", json={"apiKey": EXA_KEY, "baseUrl": "http://127.0.0.1:9"})
    body = client.post("/api/settings/web-search", json={"apiKey": None, "baseUrl": None}).json()
    assert body == DEFAULTS


def test_a_key_from_the_environment_is_reported_as_env(client, monkeypatch):
    monkeypatch.setenv("EXA_API_KEY", EXA_KEY)
    body = client.get("/api/settings/web-search").json()
    assert body["hasKey"] is True and body["apiKeySource"] == "env" and body["maskedKey"] == "3f6…7b9d"


@pytest.mark.parametrize(("body", "field"), [
    ({"exaSearchEnabled": "yes"}, "exaSearchEnabled"),
    ({"exaSearchEnabled": None}, "exaSearchEnabled"),
    ({"apiKey": 12345678}, "apiKey"),
    ({"apiKey": "short"}, "apiKey"),
    ({"apiKey": "has a space in it"}, "apiKey"),
    ({"baseUrl": "ftp://example.com"}, "baseUrl"),
    ({"baseUrl": "not a url"}, "baseUrl"),
])
def test_bad_values_are_400_with_the_field_named(client, body, field):
    assert list(field_errors(client.post("/api/settings/web-search", json=body))) == [field]
    assert client.get("/api/settings/web-search").json() == DEFAULTS


@pytest.mark.parametrize("body", [{}, {"other": 1}])
def test_a_body_with_nothing_to_set_is_400(client, body):
    response = client.post("/api/settings/web-search", json=body)
    assert field_errors(response) == {}
    assert response.json()["error"]["formErrors"] == ["Provide at least one of: exaSearchEnabled, apiKey, baseUrl"]


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b"null"])
def test_a_body_that_is_not_an_object_is_400(client, raw):
    response = client.post("/api/settings/web-search", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()


def test_a_read_key_can_neither_see_nor_change_it(daemon, client):
    admin = {"X-API-Key": daemon.api_key}
    reader = client.post("/api/keys", json={"name": "reader", "scopes": ["stagent:read"]}, headers=admin).json()
    headers = {"X-API-Key": reader["key"]}
    assert client.get("/api/settings/web-search", headers=headers).status_code == 403
    refused = client.post("/api/settings/web-search", json={"baseUrl": "http://127.0.0.1:9"}, headers=headers)
    assert refused.status_code == 403
    assert client.get("/api/settings/web-search", headers=admin).json() == DEFAULTS

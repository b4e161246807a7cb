"""The request guard, API keys and the UI session, through real HTTP against the real daemon.

DNS rebinding (foreign or malformed Host), CSRF (foreign Origin / fetch metadata), body limits,
key scopes, secrets at rest. Elsewhere: the page's headers, session minting and a bind beyond
loopback (tests/test_exposure.py), the error envelopes (tests/test_error_envelopes.py), every
route x every scope (tests/test_scopes.py).
"""

from __future__ import annotations

import socket
import sqlite3
import stat

import httpx
import pytest

from stagent.security import ALL_SCOPES
from tests.conftest import Daemon
from tests.helpers.http import http_client

JSON = {"content-type": "application/json"}


def _count(client, collection: str) -> int:
    return len(client.get(f"/api/{collection}").json())


def _is_stagent_error(response) -> bool:
    body = response.json()
    return set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


def _is_flatten(response) -> bool:
    body = response.json()
    if set(body) != {"error"} or not isinstance(body["error"], dict):
        return False
    error = body["error"]
    return (set(error) == {"formErrors", "fieldErrors"} and isinstance(error["formErrors"], list)
            and isinstance(error["fieldErrors"], dict)
            and all(isinstance(m, str) for m in error["formErrors"])
            and all(isinstance(v, list) and all(isinstance(m, str) for m in v)
                    for v in error["fieldErrors"].values()))


def _raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# ---- Host (DNS rebinding) ---------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.com", "127.0.0.1.nip.io",
                                  "evil.example:{port}", "localhost.evil.com:{port}",
                                  "127.0.0.1.nip.io:{port}", "127.0.0.2:{port}"])
@pytest.mark.parametrize("method, path", [("GET", "/api/health"), ("GET", "/api/tasks"),
                                          ("POST", "/api/projects"), ("GET", "/")])
def test_foreign_host_is_refused(daemon, host, method, path):
    host = host.format(port=daemon.port)
    response = daemon.client.request(method, path, headers={"Host": host}, json={"name": "p"})
    assert response.status_code == 403
    assert _is_stagent_error(response)
    assert "stagent_session" not in response.headers.get("set-cookie", "")
    assert _count(daemon.client, "projects") == 0


def test_missing_host_is_refused(daemon):
    status, body = _raw_request(daemon.port, b"GET /api/health HTTP/1.0\r\n\r\n")
    assert status == 403
    assert b"not served here" in body


@pytest.mark.parametrize("host", ["localhost:1@evil.com", "localhost@evil.com", "evil.com@localhost",
                                  "localhost:{port}@evil.com", "localhost:{port}:1", "localhost:abc",
                                  "localhost:99999", "[::1", "[localhost]:{port}", "[::1]x",
                                  "localhost/evil", "local_host", "localhost, evil.com"])
def test_malformed_host_is_refused(daemon, host):
    host = host.format(port=daemon.port)
    request = (f"POST /api/projects HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               'Content-Length: 13\r\nConnection: close\r\n\r\n{"name": "p"}').encode()
    status, body = _raw_request(daemon.port, request)
    assert status == 400, body
    assert b"Malformed Host header" in body
    assert _count(daemon.client, "projects") == 0


@pytest.mark.parametrize("hosts", [("localhost:{port}", "evil.example"), ("evil.example", "localhost:{port}"),
                                   ("localhost:{port}", "localhost:{port}")])
def test_two_host_headers_are_refused(daemon, hosts):
    lines = "".join(f"Host: {h.format(port=daemon.port)}\r\n" for h in hosts)
    status, body = _raw_request(daemon.port, f"GET /api/tasks HTTP/1.1\r\n{lines}Connection: close\r\n\r\n".encode())
    assert status == 400 and b"More than one Host header" in body


def test_an_origin_with_userinfo_is_not_this_origin(daemon):
    origin = f"http://localhost:{daemon.port}@evil.example"
    response = daemon.client.post("/api/projects", json={"name": "p"},
                                  headers={"Host": f"localhost:{daemon.port}", "Origin": origin})
    assert response.status_code == 403
    assert _count(daemon.client, "projects") == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_loopback_hosts_with_the_port_are_served(daemon, host):
    headers = {"Host": f"{host}:{daemon.port}"}
    assert daemon.client.get("/api/health", headers=headers).status_code == 200
    created = daemon.client.post("/api/projects", headers=headers, json={"name": f"via {host}"})
    assert created.status_code == 201


# ---- Origin / fetch metadata (CSRF) ------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.com",
                                    "https://127.0.0.1:{port}", "http://localhost:1",
                                    "http://127.0.0.1:{port}.evil.example", "file://"])
def test_state_change_from_a_foreign_origin_is_refused(daemon, origin):
    origin = origin.format(port=daemon.port)
    client = daemon.client
    assert client.post("/api/projects", json={"name": "p"}, headers={"Origin": origin}).status_code == 403
    assert client.post("/api/tasks", json={"title": "t"}, headers={"Origin": origin}).status_code == 403
    assert _count(client, "projects") == 0
    assert _count(client, "tasks") == 0

    task = client.post("/api/tasks", json={"title": "mine"}).json()
    patched = client.patch(f"/api/tasks/{task['id']}", json={"title": "theirs"}, headers={"Origin": origin})
    assert patched.status_code == 403
    assert client.delete(f"/api/tasks/{task['id']}", headers={"Origin": origin}).status_code == 403
    assert client.get(f"/api/tasks/{task['id']}").json()["title"] == "mine"


def test_text_plain_csrf_post_is_refused(daemon):
    # What an HTML form or a no-cors fetch can send without a preflight.
    response = daemon.client.post("/api/tasks", content=b'{"title": "csrf"}',
                                  headers={"Content-Type": "text/plain", "Origin": "http://evil.example",
                                           "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert _count(daemon.client, "tasks") == 0


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_cross_site_fetch_metadata_is_refused(daemon, site):
    response = daemon.client.post("/api/projects", json={"name": "p"}, headers={"Sec-Fetch-Site": site})
    assert response.status_code == 403
    assert _count(daemon.client, "projects") == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_same_origin_state_change_is_allowed(daemon, host):
    authority = f"{host}:{daemon.port}"
    headers = {"Host": authority, "Origin": f"http://{authority}", "Sec-Fetch-Site": "same-origin"}
    assert daemon.client.post("/api/projects", json={"name": "p"}, headers=headers).status_code == 201


def test_requests_without_origin_are_allowed(daemon):
    # curl, the CLI, scripts: no browser, no ambient credentials to abuse.
    assert daemon.client.post("/api/projects", json={"name": "p"}).status_code == 201
    assert daemon.client.post("/api/projects", json={"name": "q"},
                              headers={"Sec-Fetch-Site": "none"}).status_code == 201


def test_reads_from_a_foreign_origin_are_served_but_keep_the_host_check(daemon):
    foreign = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert daemon.client.get("/api/tasks", headers=foreign).status_code == 200
    assert daemon.client.get("/api/health", headers=foreign).status_code == 200
    assert daemon.client.get("/api/tasks", headers={**foreign, "Host": "evil.example"}).status_code == 403


# ---- body limit ----------------------------------------------------------------------------

@pytest.fixture
def small(tmp_path):
    d = Daemon(tmp_path / "small", max_body_bytes=1024)
    yield d
    d.stop()


def test_body_over_the_limit_is_refused_by_content_length(small):
    big = {"title": "x" * 100, "description": "y" * 1500}
    response = small.client.post("/api/tasks", json=big)
    assert response.status_code == 413
    assert _is_stagent_error(response)
    assert _count(small.client, "tasks") == 0


def test_chunked_body_over_the_limit_is_refused(small):
    def chunks():  # no Content-Length: the limit must hold while reading
        yield b'{"title": "chunked", "description": "'
        for _ in range(3):
            yield b"z" * 500
        yield b'"}'

    response = small.client.post("/api/tasks", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert _is_stagent_error(response)
    assert _count(small.client, "tasks") == 0


def test_body_within_the_limit_is_served(small):
    def chunks():
        yield b'{"title": "fits",'
        yield b' "description": "' + b"z" * 500 + b'"}'

    assert small.client.post("/api/tasks", content=chunks(), headers=JSON).status_code == 201
    assert small.client.post("/api/tasks", json={"title": "fits too"}).status_code == 201


def test_invalid_content_length_is_refused(daemon):
    request = (f"POST /api/projects HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
               "Content-Length: -5\r\nConnection: close\r\n\r\n").encode()
    status, _ = _raw_request(daemon.port, request)
    assert status == 400
    assert _count(daemon.client, "projects") == 0


# ---- API keys ------------------------------------------------------------------------------

def test_invalid_api_key_is_refused(daemon):
    for path in ("/api/tasks", "/api/health", "/api/keys"):
        response = daemon.client.get(path, headers={"X-API-Key": "stg_not-a-real-key"})
        assert response.status_code == 401
        assert _is_stagent_error(response)
    assert daemon.client.post("/api/projects", json={"name": "p"},
                              headers={"X-API-Key": ""}).status_code == 401
    assert _count(daemon.client, "projects") == 0


def test_the_key_file_is_private_and_its_key_works(daemon):
    path = daemon.data_dir / "api-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = daemon.api_key
    assert key.startswith("stg_") and len(key) > 40
    response = daemon.client.get("/api/keys", headers={"X-API-Key": key})
    assert response.status_code == 200
    assert [k["name"] for k in response.json()] == ["default"]
    assert response.json()[0]["scopes"] == sorted(ALL_SCOPES)  # every scope


def test_key_routes_need_the_admin_scope(daemon):
    client, admin = daemon.client, {"X-API-Key": daemon.api_key}
    created = client.post("/api/keys", json={"name": "reader", "scopes": ["stagent:read"]}, headers=admin)
    assert created.status_code == 201
    reader = {"X-API-Key": created.json()["key"]}
    victim = client.post("/api/keys", json={"name": "victim", "scopes": ["admin"]}, headers=admin).json()

    for headers, status in (({}, 401), (reader, 403)):
        assert client.get("/api/keys", headers=headers).status_code == status
        assert client.post("/api/keys", json={"name": "x", "scopes": ["admin"]},
                           headers=headers).status_code == status
        assert client.delete(f"/api/keys/{victim['id']}", headers=headers).status_code == status
    denied = client.get("/api/keys", headers=reader)
    assert _is_stagent_error(denied) and "admin" in denied.json()["error"]

    names = [k["name"] for k in client.get("/api/keys", headers=admin).json()]
    assert names == ["default", "reader", "victim"]  # nothing was created by the refused calls
    assert all(k["revokedAt"] is None for k in client.get("/api/keys", headers=admin).json())
    assert client.get("/api/tasks", headers=reader).status_code == 200  # the key itself is valid


def test_a_created_secret_is_shown_once(daemon):
    client, admin = daemon.client, {"X-API-Key": daemon.api_key}
    created = client.post("/api/keys", json={"name": "ci", "scopes": ["stagent:read", "stagent:write"]},
                          headers=admin)
    assert created.status_code == 201
    body = created.json()
    secret = body["key"]
    assert secret.startswith("stg_")
    assert body["scopes"] == ["stagent:read", "stagent:write"]
    assert secret not in body["prefix"] and body["prefix"].endswith("…")

    listing = client.get("/api/keys", headers=admin)
    assert secret not in listing.text
    assert daemon.api_key not in listing.text
    assert all("key" not in k for k in listing.json())
    assert {k["name"] for k in listing.json()} == {"default", "ci"}


def test_unknown_scope_is_refused(daemon):
    response = daemon.client.post("/api/keys", json={"name": "x", "scopes": ["root"]},
                                  headers={"X-API-Key": daemon.api_key})
    assert response.status_code == 400
    assert _is_flatten(response) and "scopes" in response.json()["error"]["fieldErrors"]


def test_a_revoked_key_is_refused_at_once(daemon):
    client, admin = daemon.client, {"X-API-Key": daemon.api_key}
    created = client.post("/api/keys", json={"name": "temp", "scopes": ["admin"]}, headers=admin).json()
    temp = {"X-API-Key": created["key"]}
    assert client.get("/api/keys", headers=temp).status_code == 200

    assert client.delete(f"/api/keys/{created['id']}", headers=admin).status_code == 200
    assert client.get("/api/keys", headers=temp).status_code == 401
    assert client.get("/api/tasks", headers=temp).status_code == 401
    listed = {k["id"]: k for k in client.get("/api/keys", headers=admin).json()}
    assert listed[created["id"]]["revokedAt"] is not None
    assert client.delete("/api/keys/no-such-key", headers=admin).status_code == 404


# ---- the UI session cookie -----------------------------------------------------------------

def _session(daemon) -> str:
    response = daemon.client.get("/")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("stagent_session=")
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    return cookie.split(";", 1)[0].split("=", 1)[1]


def test_loading_the_ui_sets_a_session_that_authorises_on_its_own(daemon):
    secret = _session(daemon)
    assert len(secret) > 40
    with httpx.Client(base_url=daemon.url, cookies={"stagent_session": secret}) as browser:
        assert browser.get("/api/keys").status_code == 200
        same_origin = {"Origin": daemon.url, "Sec-Fetch-Site": "same-origin"}
        created = browser.post("/api/keys", json={"name": "from ui", "scopes": ["stagent:read"]},
                               headers=same_origin)
        assert created.status_code == 201
        # The session is not an API key: it is not listed, and the page can't read it.
        assert [k["name"] for k in browser.get("/api/keys").json()] == ["default", "from ui"]
        # A page that already has the session is not given another.
        assert "set-cookie" not in browser.get("/").headers


def test_a_bogus_session_grants_nothing(daemon):
    _session(daemon)
    for value in ("bogus", "stg_" + "A" * 43, ""):
        with httpx.Client(base_url=daemon.url, cookies={"stagent_session": value}) as browser:
            assert browser.get("/api/keys").status_code == 401
            assert browser.post("/api/keys", json={"name": "x", "scopes": ["admin"]}).status_code == 401


def test_the_session_is_ignored_on_cross_origin_requests(daemon):
    secret = _session(daemon)
    with httpx.Client(base_url=daemon.url, cookies={"stagent_session": secret}) as browser:
        # Another web app on localhost is same-site, so SameSite=Strict still sends the cookie.
        assert browser.get("/api/keys", headers={"Sec-Fetch-Site": "same-site"}).status_code == 401
        assert browser.get("/api/keys", headers={"Origin": "http://localhost:1"}).status_code == 401
        assert browser.get("/api/keys").status_code == 200


def test_secrets_are_never_stored_in_clear(daemon):
    client, admin = daemon.client, {"X-API-Key": daemon.api_key}
    created = client.post("/api/keys", json={"name": "x", "scopes": ["admin"]}, headers=admin).json()
    session = _session(daemon)
    secrets = [daemon.api_key, created["key"], session]
    client.get("/api/health")  # the writes above are committed before their responses

    conn = sqlite3.connect(daemon.data_dir / "stagent.db")
    try:
        dump = "\n".join(conn.iterdump())
        rows = conn.execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    finally:
        conn.close()
    assert len(rows) >= 3
    for secret in secrets:
        assert secret not in dump
        assert secret[8:] not in dump  # not even the part after the shown prefix
    raw = b"".join(p.read_bytes() for p in daemon.data_dir.glob("stagent.db*"))
    for secret in secrets:
        assert secret.encode() not in raw
    assert all(len(h) == 64 for h, _ in rows)  # SHA-256 hex


def test_browser_sessions_are_capped(daemon):
    from stagent.store.keys import MAX_SESSIONS

    first = httpx.get(daemon.url + "/").cookies["stagent_session"]
    with http_client(base_url=daemon.url) as browser:
        for _ in range(MAX_SESSIONS):
            browser.cookies.clear()  # a new browser each time
            browser.get("/")
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        count = conn.execute("SELECT COUNT(*) FROM api_keys WHERE kind = 'session'").fetchone()[0]
    assert count == MAX_SESSIONS
    r = httpx.get(daemon.url + "/api/keys", cookies={"stagent_session": first})
    assert r.status_code == 401  # the oldest session was dropped


def test_key_list_shows_last_use(daemon):
    admin = {"X-API-Key": daemon.api_key}
    created = httpx.post(daemon.url + "/api/keys", json={"name": "ci", "scopes": ["stagent:read"]},
                         headers=admin).json()
    listed = {k["id"]: k for k in httpx.get(daemon.url + "/api/keys", headers=admin).json()}
    assert listed[created["id"]]["lastUsedAt"] is None
    assert httpx.get(daemon.url + "/api/tasks", headers={"X-API-Key": created["key"]}).status_code == 200
    listed = {k["id"]: k for k in httpx.get(daemon.url + "/api/keys", headers=admin).json()}
    assert listed[created["id"]]["lastUsedAt"] is not None

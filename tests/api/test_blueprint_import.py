"""POST /api/blueprints/import from loopback HTTP servers: success, every kind of fetch failure
(status, size, compression, timeout, encoding, redirects), and the body's validation."""

from __future__ import annotations

import gzip
import socket

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from stagent.engine.workflows import blueprints as blueprints_engine
from stagent.engine.workflows.blueprints import MAX_YAML_BYTES, raw_url
from tests.api.test_blueprints import BUILTINS, blueprint_yaml
from tests.helpers.servers import ThreadedServer, free_port

DEEP_FLOW = "id: x\nname: " + "[" * 60000 + "]" * 60000


@pytest.fixture(scope="module")
def yaml_server():
    accept_encodings: list[str | None] = []

    async def good(request):
        accept_encodings.append(request.headers.get("accept-encoding"))
        return PlainTextResponse(blueprint_yaml(bp_id="imported-trip"))

    async def broken(request):
        return PlainTextResponse("id: x\nname: [")

    async def deep(request):
        return PlainTextResponse(DEEP_FLOW)

    async def big(request):
        return PlainTextResponse("# " + "x" * MAX_YAML_BYTES)

    async def big_stream(request):  # no Content-Length: the cap applies while reading
        async def chunks():
            for _ in range(MAX_YAML_BYTES // 1024 + 2):
                yield b"#" + b"x" * 1023

        return StreamingResponse(chunks(), media_type="text/plain")

    # Sent compressed although the client asked for identity: ~12 KB on the wire, 16 MB decoded.
    bomb = gzip.compress(b"#" + b" " * (16 * 1024 * 1024))

    async def gzip_bomb(request):
        return Response(bomb, media_type="text/plain", headers={"content-encoding": "gzip"})

    async def gzipped(request):
        body = gzip.compress(blueprint_yaml(bp_id="gzipped-trip").encode())
        return Response(body, media_type="text/plain", headers={"content-encoding": "gzip"})

    async def brotli(request):
        return Response(b"\x0b\x02\x80id: x\x03", media_type="text/plain", headers={"content-encoding": "br"})

    async def latin1(request):
        return Response(b"id: cafe\nname: Caf\xe9\n", media_type="text/plain")

    async def missing(request):
        return Response("not here", status_code=404)

    def redirect_to(location: str):
        async def handler(request):
            return RedirectResponse(location, status_code=302)

        return handler

    server = ThreadedServer(Starlette(routes=[
        Route("/good.yaml", good), Route("/broken.yaml", broken), Route("/deep.yaml", deep),
        Route("/big.yaml", big), Route("/big-stream.yaml", big_stream), Route("/missing.yaml", missing),
        Route("/gzip-bomb.yaml", gzip_bomb), Route("/gzipped.yaml", gzipped), Route("/brotli.yaml", brotli),
        Route("/latin1.yaml", latin1),
        Route("/moved.yaml", redirect_to("/good.yaml")),
        Route("/to-ftp.yaml", redirect_to("ftp://127.0.0.1/x.yaml")),
        Route("/to-file.yaml", redirect_to("file:///etc/passwd")),
        Route("/loop.yaml", redirect_to("/loop.yaml")),
        Route("/to-metadata.yaml", redirect_to("http://169.254.169.254/latest/meta-data/")),
        Route("/to-link-local-v6.yaml", redirect_to("http://[fe80::1]/x.yaml")),
    ])).start()
    server.accept_encodings = accept_encodings
    yield server
    server.stop()


def import_url(client, url: str):
    return client.post("/api/blueprints/import", json={"url": url})


def test_import_from_a_url_asks_for_uncompressed_text(client, yaml_server):
    yaml_server.accept_encodings.clear()
    r = import_url(client, yaml_server.url + "/good.yaml")
    assert r.status_code == 201 and r.json() == {"ok": True, "id": "imported-trip", "name": "Trip Plan"}
    assert yaml_server.accept_encodings == ["identity"]
    got = client.get("/api/blueprints/imported-trip").json()
    assert got["isBuiltin"] is False and len(got["steps"]) == 3
    again = import_url(client, yaml_server.url + "/good.yaml")
    assert again.status_code == 400 and again.json() == {"error": 'Blueprint "imported-trip" already exists'}


def test_import_follows_an_http_redirect(client, yaml_server):
    r = import_url(client, yaml_server.url + "/moved.yaml")
    assert r.status_code == 201 and r.json()["id"] == "imported-trip"


def test_import_of_gzip_the_server_sent_anyway(client, yaml_server):
    r = import_url(client, yaml_server.url + "/gzipped.yaml")
    assert r.status_code == 201 and r.json()["id"] == "gzipped-trip"


def test_import_from_yaml_text(client):
    r = client.post("/api/blueprints/import", json={"yaml": blueprint_yaml(bp_id="pasted")})
    assert r.status_code == 201 and r.json() == {"ok": True, "id": "pasted", "name": "Trip Plan"}


@pytest.mark.parametrize("path, words", [
    ("/missing.yaml", ": HTTP 404"),
    ("/broken.yaml", "Invalid blueprint: not valid YAML"),
    ("/deep.yaml", "Invalid blueprint: nested too deeply"),
    ("/big.yaml", "larger than 256 KB"),
    ("/big-stream.yaml", "larger than 256 KB"),
    ("/gzip-bomb.yaml", "larger than 256 KB"),
    ("/brotli.yaml", "compressed with br"),
    ("/latin1.yaml", "not UTF-8"),
    ("/to-ftp.yaml", "redirected to a URL that is not http(s): ftp://127.0.0.1/x.yaml"),
    ("/to-file.yaml", "redirected to a URL that is not http(s): file:"),
    ("/loop.yaml", "more than 5 redirects"),
])
def test_import_failures_are_clear_400s(client, yaml_server, path, words):
    url = yaml_server.url + path
    r = import_url(client, url)
    assert r.status_code == 400 and words in r.json()["error"], r.json()
    if "Invalid blueprint" not in words:
        assert r.json()["error"].startswith(f"Could not fetch {url}: ")
    assert {b["id"] for b in client.get("/api/blueprints").json()} == BUILTINS


@pytest.mark.parametrize("url, words", [
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254 is a link-local address"),
    ("http://169.254.170.2/v2/credentials", "link-local"),
    ("http://[fe80::1]/x.yaml", "fe80::1 is a link-local address"),
    ("http://[fe80::1%25eth0]:8080/x.yaml", "link-local"),
    ("http://[::ffff:169.254.169.254]/x.yaml", "169.254.169.254 is a link-local address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata address"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata address"),
    ("http://0.0.0.0:80/x.yaml", "unspecified"),
    ("http://224.0.0.1/x.yaml", "multicast"),
])
def test_import_from_link_local_or_metadata_addresses_is_refused(client, url, words):
    # An address literal is judged without a lookup or a connection: a 400 at once, saying why.
    r = import_url(client, url)
    assert r.status_code == 400, r.json()
    assert r.json()["error"].startswith(f"Could not fetch {url}: ") and words in r.json()["error"], r.json()
    assert "never fetched" in r.json()["error"]
    assert {b["id"] for b in client.get("/api/blueprints").json()} == BUILTINS


@pytest.mark.parametrize("path, target", [
    ("/to-metadata.yaml", "http://169.254.169.254/latest/meta-data/"),
    ("/to-link-local-v6.yaml", "http://[fe80::1]/x.yaml"),
])
def test_a_redirect_to_a_link_local_address_is_refused(client, yaml_server, path, target):
    url = yaml_server.url + path
    r = import_url(client, url)
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"Could not fetch {url}: redirected to {target}: "), r.json()
    assert "link-local" in r.json()["error"]


def test_loopback_and_private_addresses_stay_allowed(client, yaml_server):
    r = import_url(client, yaml_server.url.replace("127.0.0.1", "localhost") + "/good.yaml")
    assert r.status_code == 201, r.json()


def test_import_from_a_server_that_is_not_there(client):
    url = f"http://127.0.0.1:{free_port()}/x.yaml"
    r = import_url(client, url)
    assert r.status_code == 400 and r.json()["error"].startswith(f"Could not fetch {url}: ")


def test_import_from_a_server_that_never_answers(client, monkeypatch):
    monkeypatch.setattr(blueprints_engine, "FETCH_TIMEOUT", 0.3)
    with socket.socket() as silent:  # the kernel completes the connection; nobody ever reads it
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.yaml"
        r = import_url(client, url)
    assert r.status_code == 400 and r.json() == {"error": f"Could not fetch {url}: no complete answer within 0.3 s"}


@pytest.mark.parametrize("body, words", [
    ({}, "url is required"),
    ({"url": ""}, "url is required"),
    ({"url": "ftp://example.com/x.yaml"}, "http(s)"),
    ({"url": "not a url"}, "http(s)"),
    ({"url": "https://github.com/owner/repo"}, "must point at a file"),
    ({"url": "http://127.0.0.1:1/x.yaml", "yaml": "id: x"}, "not both"),
    ({"url": 7}, "url is required"),
    ({"yaml": DEEP_FLOW}, "Invalid blueprint: nested too deeply"),
])
def test_import_validates_its_body(client, body, words):
    r = client.post("/api/blueprints/import", json=body)
    assert r.status_code == 400 and words in r.json()["error"], r.json()


def test_github_links_become_raw_links():
    assert raw_url("https://github.com/o/r/blob/main/bp/x.yaml") == "https://raw.githubusercontent.com/o/r/main/bp/x.yaml"
    assert raw_url("https://github.com/o/r/tree/v1/x.yaml") == "https://raw.githubusercontent.com/o/r/v1/x.yaml"
    raw = "https://raw.githubusercontent.com/o/r/main/x.yaml"
    assert raw_url(raw) == raw

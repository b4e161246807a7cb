"""web_fetch and web_search against servers the tests start on loopback: a small site (HTML, a big
body, redirects, pages in legacy charsets) and a fake of Exa's search API (tests/fakes/search.py).

web_fetch's cases call the registered tool through `run_tool`, as the agent loop does; the
end-to-end cases run real tasks on the real daemon, where the tools ask unless a pattern allows them.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from stagent.engine import net
from stagent.engine.agent import web
from stagent.engine.agent.tools import TASK_TOOLS, run_tool
from tests.engine.test_approvals import log_rows, start_task, tool_messages, wait_for_request
from tests.fakes.search import FakeSearch
from tests.helpers.servers import ThreadedServer

RUSSIAN = "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю."
PAGE = """<!doctype html><html><head><title>Release notes</title><style>p {color: red}</style>
<script>alert("nope")</script></head><body><nav><a href="/">Home</a></nav>
<main><h1>Version 2</h1><p>Faster <b>starts</b> and a <a href="/docs/start">guide</a>.</p>
<ul><li>one</li><li>two</li></ul><img src="data:image/png;base64,AAAA"><img src="/logo.png" alt="logo"></main>
</body></html>"""


def site() -> Starlette:
    async def page(request):
        return Response(PAGE, media_type="text/html")

    async def big(request):
        async def chunks():
            for _ in range(5 * 16):  # 5 MB in 64 KB pieces; the reader stops after 2 MB
                yield b"x" * 65536
        return StreamingResponse(chunks(), media_type="text/plain")

    async def cp1251(request):
        body = f"<html><body><p>{RUSSIAN}</p></body></html>".encode("windows-1251")
        return Response(body, headers={"content-type": "text/html; charset=windows-1251"})

    async def latin_meta(request):
        body = '<html><head><meta charset="iso-8859-1"></head><body><p>Café “crème” brûlée</p></body></html>'
        return Response(body.encode("cp1252"), headers={"content-type": "text/html"})

    async def undeclared(request):
        return Response(((RUSSIAN + "\n") * 20).encode("windows-1251"), headers={"content-type": "text/plain"})

    async def image(request):
        return Response(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, media_type="image/png")

    async def missing(request):
        return Response("<html><body><h1>No such page</h1></body></html>", status_code=404, media_type="text/html")

    async def moved(request):
        return RedirectResponse("/page.html", status_code=301)

    async def loop(request):
        return RedirectResponse("/loop", status_code=302)

    async def away(request):
        port = request.url.port
        return RedirectResponse(f"http://localhost:{port}/page.html", status_code=302)

    return Starlette(routes=[
        Route("/page.html", page), Route("/big", big), Route("/cp1251", cp1251), Route("/latin", latin_meta),
        Route("/undeclared", undeclared), Route("/image.png", image), Route("/missing", missing),
        Route("/moved", moved), Route("/loop", loop), Route("/away", away)])


@pytest.fixture(scope="module")
def pages():
    server = ThreadedServer(site()).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def exa_server():
    fake = FakeSearch()
    fake.server = ThreadedServer(fake.app).start()
    yield fake
    fake.server.stop()


@pytest.fixture
def exa(exa_server, monkeypatch):
    monkeypatch.delenv("EXA_API_KEY", raising=False)
    exa_server.reset()
    yield exa_server
    exa_server.reset()


def fetch(url: str) -> str:
    return asyncio.run(run_tool(TASK_TOOLS, None, "web_fetch", {"url": url}))


# ---- web_fetch -----------------------------------------------------------------------------

def test_html_becomes_readable_markdown(pages):
    result = fetch(f"{pages}/page.html")
    header, title, blank, *body = result.splitlines()
    assert header == f"Fetched {pages}/page.html (HTTP 200, text/html, utf-8)"
    assert title == "Title: Release notes" and blank == ""
    text = "\n".join(body)
    assert text.startswith("# Version 2")
    assert f"Faster **starts** and a [guide]({pages}/docs/start)." in text
    assert "- one\n- two" in text and f"![logo]({pages}/logo.png)" in text
    for gone in ("alert", "color: red", "data:image", "Home"):  # scripts, styles, inline images, nav
        assert gone not in text


def test_a_big_body_is_capped(pages):
    result = fetch(f"{pages}/big")
    assert "only its first 2 MB were read" in result
    assert f"{2 * 1024 * 1024 - web.MAX_CHARS:,} more characters not shown" in result
    assert len(result) < web.MAX_CHARS + 500


def test_a_same_host_redirect_is_followed(pages):
    assert fetch(f"{pages}/moved").startswith(f"Fetched {pages}/page.html (HTTP 200")


def test_a_redirect_to_another_host_is_reported_not_followed(pages):
    port = pages.rsplit(":", 1)[1]
    assert fetch(f"{pages}/away") == (
        f"{pages}/away redirects (HTTP 302) to another host: http://localhost:{port}/page.html\n"
        "To read it, call web_fetch again with that URL.")


def test_endless_redirects_stop(pages):
    assert fetch(f"{pages}/loop") == f"error: {pages}/loop redirected more than {web.MAX_REDIRECTS} times"


def test_the_header_charset_decodes_the_page(pages):
    result = fetch(f"{pages}/cp1251")
    assert result.splitlines()[0].endswith("(HTTP 200, text/html, cp1251)")
    assert RUSSIAN in result


def test_a_meta_charset_decodes_the_page_latin1_as_the_web_does(pages):
    result = fetch(f"{pages}/latin")
    assert "Café “crème” brûlée" in result  # iso-8859-1 read as windows-1252: the quotes survive


def test_an_undeclared_charset_is_detected(pages):
    assert RUSSIAN in fetch(f"{pages}/undeclared")


@pytest.mark.parametrize(("url", "message"), [
    ("/image.png", "is image/png (108 bytes), not text"),
    ("/missing", "HTTP 404 Not Found from"),
])
def test_binary_and_error_pages_are_errors(pages, url, message):
    result = fetch(pages + url)
    assert result.startswith("error: ") and message in result
    if url == "/missing":
        assert "No such page" in result


@pytest.mark.parametrize(("url", "message"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("example.com", "must start with http:// or https://"),
    ("", "'url' is required"),
])
def test_urls_that_are_never_fetched(url, message):
    result = fetch(url)
    assert result.startswith("error: ") and message in result


def test_an_unreachable_server_is_an_error(pages):
    server = ThreadedServer(site()).start()
    url = server.url
    server.stop()
    assert fetch(f"{url}/page.html").startswith(f"error: could not fetch {url}/page.html: ConnectError")


def test_web_fetch_in_a_task_asks_unless_a_pattern_allows_it(daemon, client, llm_env, pages):
    llm_env.enqueue_tool_call("web_fetch", {"url": f"{pages}/page.html"})
    llm_env.enqueue_text("read it")
    task = start_task(client, "Read the notes")
    request = wait_for_request(daemon.url, task["id"])
    assert request["toolName"] == "web_fetch"
    client.post(f"/api/tasks/{task['id']}/respond", json={
        "notificationId": request["notificationId"], "behavior": "allow"})
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert "# Version 2" in tool_messages(llm_env.requests[-1])[0]

    assert client.post("/api/permissions", json={"pattern": f"WebFetch({pages}/*)"}).status_code == 200
    llm_env.enqueue_tool_call("web_fetch", {"url": f"{pages}/moved"})
    llm_env.enqueue_text("read it again")
    again = start_task(client, "Read the notes again")
    assert daemon.wait_for_status(again["id"], {"completed", "failed"})["status"] == "completed"
    assert len(client.get("/api/notifications?type=permission_required").json()) == 1
    assert "# Version 2" in tool_messages(llm_env.requests[-1])[0]


# ---- web_search ----------------------------------------------------------------------------

def configure(client, exa, **extra) -> None:
    body = {"exaSearchEnabled": True, "apiKey": exa.key, "baseUrl": exa.url, **extra}
    assert client.post("/api/settings/web-search", json=body).status_code == 200


def search_task(daemon, client, llm_env, arguments: dict) -> tuple[dict, str]:
    assert client.post("/api/permissions", json={"pattern": "WebSearch"}).status_code == 200
    llm_env.enqueue_tool_call("web_search", arguments)
    llm_env.enqueue_text("found")
    task = start_task(client, "Look it up")
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    return done, tool_messages(llm_env.requests[-1])[0]


def test_web_search_asks_exa_with_the_users_key(daemon, client, llm_env, exa):
    configure(client, exa)
    done, result = search_task(daemon, client, llm_env, {"query": "sqlite wal mode", "num_results": 3})
    assert done["status"] == "completed"
    sent = exa.requests[0]
    assert sent["headers"]["x-api-key"] == exa.key
    assert sent["body"] == {"query": "sqlite wal mode", "numResults": 3, "type": "auto",
                            "contents": {"text": {"maxCharacters": web.SNIPPET_CHARS}}}
    assert result.startswith("Results for 'sqlite wal mode':\n\n1. All about sqlite wal mode\n   https://example.test/a\n"
                             "   2025-01-02T00:00:00.000Z · Ana\n   A long page about sqlite wal mode.")
    assert "2. Second hit\n   https://example.test/b\n   Short." in result
    assert exa.key not in json.dumps(log_rows(daemon, done["id"]))


def test_web_search_that_is_off_or_has_no_key_tells_the_model_how_to_fix_it(daemon, client, llm_env, exa):
    _, result = search_task(daemon, client, llm_env, {"query": "anything"})
    assert result.startswith("error: web search is turned off")
    client.post("/api/settings/web-search", json={"exaSearchEnabled": True, "baseUrl": exa.url})
    llm_env.enqueue_tool_call("web_search", {"query": "anything"})
    llm_env.enqueue_text("ok")
    task = start_task(client, "Again")
    daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert tool_messages(llm_env.requests[-1])[0].startswith("error: web search has no Exa API key")
    assert exa.requests == []


def test_web_search_failures_never_show_the_key(daemon, client, llm_env, exa):
    configure(client, exa, apiKey="exa-wrong-key-9876543210")
    _, refused = search_task(daemon, client, llm_env, {"query": "q"})
    assert refused.startswith("error: the search service refused the Exa API key (HTTP 401)")
    configure(client, exa)
    exa.fail_with = 500
    llm_env.enqueue_tool_call("web_search", {"query": "q"})
    llm_env.enqueue_text("ok")
    task = start_task(client, "Again")
    daemon.wait_for_status(task["id"], {"completed", "failed"})
    failed = tool_messages(llm_env.requests[-1])[0]
    assert failed == "error: the search service answered HTTP 500: fake failure 500"
    logged = json.dumps(log_rows(daemon, task["id"]))
    for key in (exa.key, "exa-wrong-key-9876543210"):
        assert key not in refused and key not in failed and key not in logged


# ---- DNS rebinding: the connection goes to the address that was checked ----------------------

def rebinding_resolver(real, answers: list[str]):
    """socket.getaddrinfo for `rebind.test`: each lookup gets the next answer (the last one
    repeats), as a DNS server with a zero TTL that changes its mind would give them."""
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        answer = answers[min(len(lookups), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port))) for ip in answer.split(",")]

    return getaddrinfo, lookups


@pytest.fixture(scope="module")
def echo_host():
    async def host(request):
        return Response(f"Host header: {request.headers.get('host')}", media_type="text/plain")

    server = ThreadedServer(Starlette(routes=[Route("/host", host)])).start()
    yield server.url
    server.stop()


def test_a_name_that_rebinds_after_the_check_is_fetched_from_the_checked_address(echo_host, monkeypatch):
    port = echo_host.rsplit(":", 1)[1]
    resolver, lookups = rebinding_resolver(socket.getaddrinfo, ["127.0.0.1", "169.254.169.254"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = fetch(f"http://rebind.test:{port}/host")
    assert result.startswith(f"Fetched http://rebind.test:{port}/host (HTTP 200")
    assert f"Host header: rebind.test:{port}" in result  # the request still names the host
    assert len(lookups) == 1  # resolved once; a second answer (link-local) was never asked for


def test_a_name_with_any_refused_address_is_not_fetched(echo_host, monkeypatch):
    port = echo_host.rsplit(":", 1)[1]
    resolver, _ = rebinding_resolver(socket.getaddrinfo, ["127.0.0.1,169.254.169.254"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = fetch(f"http://rebind.test:{port}/host")
    assert result.startswith("error: ") and "rebind.test resolves to 169.254.169.254" in result


def test_pinned_urls_keep_the_host_for_the_header_and_tls():
    import ipaddress

    assert net.pinned_url("https://user:pw@Example.com:8443/a?b=1#c", ipaddress.ip_address("::1")) == (
        "https://user:pw@[::1]:8443/a?b=1#c", "Example.com:8443", "example.com")
    assert net.pinned_url("http://example.com/x", ipaddress.ip_address("10.0.0.7")) == (
        "http://10.0.0.7/x", "example.com", "example.com")

"""What reaches beyond the user's own browser tab and machine: the page's framing and content
policy, which navigations get a session, and a daemon bound beyond loopback (configured for
0.0.0.0 but served on loopback here: nothing is sent to another address)."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.conftest import Daemon
from tests.test_security import _session


def test_the_page_may_not_be_framed_and_loads_only_its_own_code(daemon):
    page = daemon.client.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    policy = {d.split()[0]: d.split()[1:] for d in page.headers["content-security-policy"].split("; ")}
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("site, mints", [(None, True), ("none", True), ("same-origin", True),
                                         ("cross-site", False), ("same-site", False)])
def test_a_session_is_minted_only_for_the_users_own_navigation(daemon, site, mints):
    headers = {"Sec-Fetch-Site": site} if site else {}
    page = httpx.get(daemon.url + "/", headers=headers)
    assert page.status_code == 200 and "<title>stagent</title>" in page.text
    assert ("stagent_session" in page.cookies) is mints
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        count = conn.execute("SELECT COUNT(*) FROM api_keys WHERE kind = 'session'").fetchone()[0]
    assert count == (1 if mints else 0)


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.5", False), ("my-laptop.lan", False)])
def test_which_binds_are_loopback(host, loopback):
    from stagent.config import Config

    assert Config(host=host).loopback_only is loopback


@pytest.fixture
def exposed(tmp_path):
    """A daemon configured for --host 0.0.0.0 (served on loopback here: nothing leaves the machine)."""
    d = Daemon(tmp_path / "exposed", host="0.0.0.0")
    yield d
    d.stop()


def test_a_bind_beyond_loopback_requires_a_key_whatever_the_setting(exposed):
    client, admin = exposed.client, {"X-API-Key": exposed.api_key}
    refused = client.get("/api/tasks")
    assert refused.status_code == 401 and "requires an API key" in refused.json()["error"]
    assert client.get("/api/tasks", headers=admin).status_code == 200
    assert client.get("/api/health").status_code == 200  # keyless routes stay keyless
    assert client.put("/api/settings/security", json={"requireApiKey": False}, headers=admin).status_code == 200
    assert client.get("/api/tasks").status_code == 401  # the setting cannot turn it off
    assert client.post("/api/projects", json={"name": "p"}).status_code == 401
    with httpx.Client(base_url=exposed.url, cookies={"stagent_session": _session(exposed)}) as browser:
        assert browser.get("/api/tasks").status_code == 200  # the local browser's session still works

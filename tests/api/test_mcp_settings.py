"""GET/PUT /api/settings/mcp-servers (extension) and GET/POST /api/settings/browser-tools over
real HTTP. Secrets (env and header values) never come back; the browser tools become server
entries (checked here, never spawned: no task runs in this file)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from stagent.engine.agent import mcp_config

SERVERS = "/api/settings/mcp-servers"
BROWSER = "/api/settings/browser-tools"
SECRET = "ghp_supersecretvalue123"


def stored(daemon) -> dict:
    """What the settings hold (real values), read through the store on the daemon's loop."""
    return asyncio.run_coroutine_threadsafe(mcp_config.stored_servers(daemon.app.state.db), daemon.loop).result(10)


def offered(daemon) -> list:
    """The servers a run would be offered (configurations only: nothing is started)."""
    return asyncio.run_coroutine_threadsafe(daemon.app.state.mcp_clients.servers_for(), daemon.loop).result(10)


def field_errors(response) -> list[str]:
    assert response.status_code == 400, response.text
    return response.json()["error"]["fieldErrors"]["mcpServers"]


GITHUB = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
          "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}}
REMOTE = {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": f"Bearer {SECRET}"},
          "timeoutSeconds": 30}


def test_no_servers_at_first(client):
    assert client.get(SERVERS).json() == {"mcpServers": {}}
    assert client.get(BROWSER).json() == {"chromeDevtoolsEnabled": False, "playwrightEnabled": False,
                                          "chromeDevtoolsConfig": "", "playwrightConfig": ""}


def test_servers_are_stored_and_their_secrets_masked(daemon, client):
    answer = client.put(SERVERS, json={"mcpServers": {"github": GITHUB, "remote": REMOTE}})
    assert answer.status_code == 200, answer.text
    assert SECRET not in answer.text
    shown = client.get(SERVERS)
    assert SECRET not in shown.text
    servers = shown.json()["mcpServers"]
    assert servers["github"] == {"type": "stdio", "command": "npx", "args": GITHUB["args"],
                                 "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": mcp_config.MASK}, "source": "settings"}
    assert servers["remote"] == {"type": "http", "url": REMOTE["url"], "headers": {"Authorization": mcp_config.MASK},
                                 "timeoutSeconds": 30.0, "source": "settings"}
    assert stored(daemon)["github"]["env"] == GITHUB["env"]
    assert {(c.name, c.transport) for c in offered(daemon)} == {("github", "stdio"), ("remote", "http")}


def test_a_masked_value_sent_back_keeps_the_stored_one(daemon, client):
    client.put(SERVERS, json={"mcpServers": {"github": GITHUB}})
    edited = client.get(SERVERS).json()
    edited["mcpServers"]["github"]["args"].append("--read-only")
    edited["mcpServers"]["github"]["env"]["EXTRA"] = "plain"
    assert client.put(SERVERS, json=edited).status_code == 200
    entry = stored(daemon)["github"]
    assert entry["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET, "EXTRA": "plain"}
    assert entry["args"][-1] == "--read-only"


def test_a_mask_with_nothing_stored_behind_it_is_refused(client):
    errors = field_errors(client.put(SERVERS, json={"mcpServers": {"new": {"command": "x",
                                                                           "env": {"TOKEN": mcp_config.MASK}}}}))
    assert errors == [f"new.env.TOKEN: send the value; {mcp_config.MASK} stands for a stored one and none is stored"]


def test_put_replaces_the_set(daemon, client):
    client.put(SERVERS, json={"mcpServers": {"github": GITHUB, "remote": REMOTE}})
    assert client.put(SERVERS, json={"mcpServers": {}}).json() == {"mcpServers": {}}
    assert stored(daemon) == {} and offered(daemon) == []


@pytest.mark.parametrize(("servers", "needle"), [
    ({"two__parts": {"command": "x"}}, "two__parts"),
    ({"_leading": {"command": "x"}}, "_leading"),
    ({"a" * 33: {"command": "x"}}, "a" * 33),
    ({"nocommand": {"args": ["x"]}}, "nocommand: a stdio server needs a command"),
    ({"nourl": {"type": "http"}}, "nourl: an http server needs a url"),
    ({"both": {"command": "x", "url": "http://127.0.0.1:9/mcp"}}, "both: give a command (a stdio server) or a url"),
    ({"mixed": {"type": "stdio", "command": "x", "url": "http://127.0.0.1:9/mcp"}}, "mixed: a stdio server takes a"),
    ({"badurl": {"type": "http", "url": "ftp://x"}}, "badurl.url"),
    ({"badenv": {"command": "x", "env": {"A": 1}}}, "badenv.env.A"),
    ({"badargs": {"command": "x", "args": "not a list"}}, "badargs.args"),
    ({"slow": {"command": "x", "timeoutSeconds": 0}}, "slow.timeoutSeconds"),
    ({"typo": {"command": "x", "type": "sse"}}, "typo.type"),
    ({"stagent": {"command": "x"}}, "stagent: the name is reserved"),
])
def test_invalid_servers_are_refused_with_where(client, servers, needle):
    errors = field_errors(client.put(SERVERS, json={"mcpServers": servers}))
    assert any(needle in e for e in errors), errors
    assert client.get(SERVERS).json() == {"mcpServers": {}}


def test_malformed_bodies_are_400(client):
    assert field_errors(client.put(SERVERS, json={})) == ["Field required"]
    assert client.put(SERVERS, json=[]).status_code == 400
    assert client.put(SERVERS, content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    assert "mcpServers" in client.put(SERVERS, json={"mcpServers": []}).json()["error"]["fieldErrors"]


def test_a_key_without_admin_cannot_configure_servers(daemon, client):
    writer = client.post("/api/keys", json={"name": "w", "scopes": ["stagent:write", "stagent:read"]},
                         headers={"X-API-Key": daemon.api_key}).json()["key"]
    for method, path, body in (("GET", SERVERS, None), ("PUT", SERVERS, {"mcpServers": {}}),
                               ("GET", BROWSER, None), ("POST", BROWSER, {"playwrightEnabled": True})):
        refused = client.request(method, path, json=body, headers={"X-API-Key": writer})
        assert refused.status_code == 403 and "'admin'" in refused.json()["error"], (method, path)


# ---- browser tools -----------------------------------------------------------------------------

def test_enabling_a_browser_tool_adds_its_server_entry(daemon, client):
    answer = client.post(BROWSER, json={"chromeDevtoolsEnabled": True})
    assert answer.status_code == 200
    assert answer.json() == {"chromeDevtoolsEnabled": True, "playwrightEnabled": False,
                             "chromeDevtoolsConfig": "", "playwrightConfig": ""}
    entry = client.get(SERVERS).json()["mcpServers"]["chrome-devtools"]
    assert entry["source"] == "browser-tools" and entry["command"] == "npx"
    assert entry["args"][:2] == ["-y", "chrome-devtools-mcp@latest"] and "--headless" in entry["args"]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:  # Debian's Chromium, when installed, is the browser it drives
        assert entry["args"][-2:] == ["--executablePath", chromium]
    assert [(c.name, c.source, c.command) for c in offered(daemon)] == [("chrome-devtools", "browser-tools", "npx")]

    client.post(BROWSER, json={"chromeDevtoolsEnabled": False})
    assert client.get(SERVERS).json() == {"mcpServers": {}} and offered(daemon) == []


def test_a_browser_tool_config_adds_arguments_or_replaces_the_command(client):
    client.post(BROWSER, json={"playwrightEnabled": True, "playwrightConfig": "--isolated --viewport-size 800,600"})
    entry = client.get(SERVERS).json()["mcpServers"]["playwright"]
    assert entry["command"] == "npx" and entry["args"][:2] == ["-y", "@playwright/mcp@latest"]
    assert entry["args"][-3:] == ["--isolated", "--viewport-size", "800,600"]

    answer = client.post(BROWSER, json={"playwrightConfig": "/opt/pw/bin/mcp-server --port 0"})
    assert answer.json()["playwrightConfig"] == "/opt/pw/bin/mcp-server --port 0"
    entry = client.get(SERVERS).json()["mcpServers"]["playwright"]
    assert entry["command"] == "/opt/pw/bin/mcp-server" and entry["args"] == ["--port", "0"]

    client.post(BROWSER, json={"playwrightConfig": ""})  # back to the default
    assert client.get(SERVERS).json()["mcpServers"]["playwright"]["command"] == "npx"


def test_browser_tools_refuse_bad_input(client):
    unbalanced = client.post(BROWSER, json={"chromeDevtoolsConfig": "npx 'unclosed"})
    assert unbalanced.status_code == 400 and "chromeDevtoolsConfig" in unbalanced.json()["error"]["fieldErrors"]
    assert client.post(BROWSER, json={"playwrightEnabled": "yes"}).status_code == 400
    assert client.post(BROWSER, json={"playwrightEnabled": None}).status_code == 400
    assert client.post(BROWSER, json=[]).status_code == 400
    assert client.get(BROWSER).json()["playwrightEnabled"] is False


def test_browser_entries_round_trip_through_put_but_their_names_are_reserved(daemon, client):
    client.post(BROWSER, json={"playwrightEnabled": True})
    client.put(SERVERS, json={"mcpServers": {"github": GITHUB}})
    everything = client.get(SERVERS).json()
    assert set(everything["mcpServers"]) == {"github", "playwright"}
    assert client.put(SERVERS, json=everything).status_code == 200  # the browser entry is not stored as ours
    assert set(stored(daemon)) == {"github"}
    assert set(client.get(SERVERS).json()["mcpServers"]) == {"github", "playwright"}

    errors = field_errors(client.put(SERVERS, json={"mcpServers": {"playwright": {"command": "mine"}}}))
    assert "playwright" in errors[0] and BROWSER in errors[0]

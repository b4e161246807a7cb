"""How the daemon serves the UI (no browser needed): the shell, its modules, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def test_the_shell_sets_the_session_cookie_and_is_never_cached(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    assert "stagent_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_modules_are_served_as_javascript_and_revalidated(client):
    r = client.get("/static/app.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    again = client.get("/static/app.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_every_module_the_ui_imports_exists(client):
    """A typo in an import path would only show up as a blank page: check them all here."""
    for module in (WEB / "static").rglob("*.js"):
        for target in re.findall(r"^import .* from '(\.{1,2}/[^']+)';$", module.read_text(), re.M):
            path = (module.parent / target).resolve().relative_to(WEB.resolve())
            assert client.get(f"/{path.as_posix()}").status_code == 200, f"{module.name} imports {target}"


def test_nothing_outside_web_static_is_served(client):
    for path in ("/static/../../stagent/app.py", "/static/%2e%2e/index.html", "/static/nope.js"):
        assert client.get(path).status_code == 404

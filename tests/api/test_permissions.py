"""/api/permissions: the allow-list, presets, scopes and the approval timeout; the pattern language."""

from __future__ import annotations

import json
import sqlite3

import pytest

from stagent.engine.governance import permission_patterns as patterns

# ---- the pattern language (pure) -------------------------------------------------------------


@pytest.mark.parametrize("pattern, tool, args, allowed", [
    # bare names: ours, the original's, the original's MCP form of ours, globs
    ("create_task", "create_task", {"title": "x"}, True),
    ("Read", "read_file", {"path": "a.txt"}, True),
    ("LS", "list_files", {}, True),
    ("Glob", "glob", {"pattern": "src/**"}, True),
    ("Grep(TODO*)", "grep", {"pattern": "TODO: fix"}, True),
    ("Edit(src/**)", "edit_file", {"path": "src/a.py", "old": "x", "new": "y"}, True),
    ("Edit(old_string:x)", "edit_file", {"path": "src/a.py", "old": "x", "new": "y"}, True),
    ("mcp__stagent__create_task", "create_task", {}, True),
    ("mcp__*", "create_task", {}, True),
    ("Read", "create_task", {}, False),
    ("create", "create_task", {}, False),
    # Tool(*) and the code's field grammar: a trailing * is a prefix, otherwise equality
    ("Read(*)", "read_file", {"path": "x"}, True),
    ("create_task(title:Invoice *)", "create_task", {"title": "Invoice March"}, True),
    ("create_task(title:Invoice *)", "create_task", {"title": "Invoices"}, False),
    ("create_task(title:Weekly)", "create_task", {"title": "Weekly"}, True),
    ("create_task(title:Weekly)", "create_task", {"title": "Weekly report"}, False),
    ("create_task(title:x*)", "create_task", {}, False),
    # the original's field names map onto ours
    ("Read(file_path:docs/*)", "read_file", {"path": "docs/a.md"}, True),
    ("Read(file_path:docs/*)", "read_file", {"path": "src/a.py"}, False),
    # the docs' short forms match the tool's main field
    ("Bash(git *)", "run_command", {"command": "git status"}, True),
    ("Bash(git *)", "run_command", {"command": "rm -rf /"}, False),
    ("Bash(command:git *)", "run_command", {"command": "git log"}, True),
    ("Write(src/**)", "write_file", {"path": "src/a/b.py"}, True),
    ("Write(src/**)", "write_file", {"path": "tests/a.py"}, False),
    ("Write(src/*.py)", "write_file", {"path": "src/a.py"}, True),
    ("Write(src/*.py)", "write_file", {"path": "src/a/b.py"}, False),
    ("read_file(./notes.txt)", "read_file", {"path": "notes.txt"}, True),
    ("create_task(Plan*)", "create_task", {"title": "Plan Q3"}, True),
    # malformed patterns allow nothing
    ("create_task(title", "create_task", {"title": "x"}, False),
    # a URL is a value, not a `https:` field
    ("WebFetch(https://docs.python.org/*)", "web_fetch", {"url": "https://docs.python.org/3/library"}, True),
    ("WebFetch(https://docs.python.org/*)", "web_fetch", {"url": "https://evil.example/"}, False),
    ("WebFetch(url:https://docs.python.org/*)", "web_fetch", {"url": "https://docs.python.org/3"}, True),
    # paths are normalised first, and one that climbs out of its folder matches nothing
    ("Write(src/**)", "write_file", {"path": "src/../../etc/passwd"}, False),
    ("Write(src/**)", "write_file", {"path": "src/../secrets.txt"}, False),
    ("Read(file_path:docs/*)", "read_file", {"path": "docs/../.env"}, False),
    ("Read(**)", "read_file", {"path": "../outside.txt"}, False),
    ("Write(src/**)", "write_file", {"path": "src/a/../b.py"}, True),
    ("Read(file_path:docs/*)", "read_file", {"path": "./docs//a.md"}, True),
])
def test_pattern_matching(pattern, tool, args, allowed):
    assert patterns.matches(pattern, tool, args) is allowed


def test_a_url_is_parsed_as_the_short_form():
    assert patterns.parse("WebFetch(https://docs.python.org/*)") == patterns.Pattern(
        "WebFetch", None, "https://docs.python.org/*")
    assert patterns.parse("WebFetch(url:https://x.org/*)") == patterns.Pattern("WebFetch", "url", "https://x.org/*")


def test_validate_checks_length_and_grammar():
    assert patterns.validate("  Bash(git *) ") == "Bash(git *)"
    for bad in ("", "  ", "Read(", "has space", "Read(" + "x" * patterns.MAX_PATTERN + ")"):
        with pytest.raises(patterns.PatternError):
            patterns.validate(bad)


def test_suggested_patterns():
    assert patterns.suggest("create_task", {"title": "x"}) == "create_task"
    assert patterns.suggest("run_command", {"command": "git push origin"}) == "run_command(command:git *)"
    assert patterns.matches(patterns.suggest("run_command", {"command": "git push"}), "run_command",
                            {"command": "git status"})


def test_presets_are_layered():
    read_only, git_safe, full_auto = (set(patterns.PRESETS_BY_ID[i].patterns)
                                      for i in ("read-only", "git-safe", "full-auto"))
    assert read_only < git_safe
    assert read_only <= full_auto and {"Write", "Edit", "Bash"} <= full_auto
    assert [p.risk for p in patterns.PRESETS] == ["low", "medium", "high"]


# ---- the allow-list ------------------------------------------------------------------------------

def test_add_list_and_remove_patterns(client):
    assert client.get("/api/permissions").json() == {"permissions": []}
    for pattern in ("Read(*)", "Bash(git *)", "Write(src/**)", "mcp__*", "create_task", "create_task"):
        r = client.post("/api/permissions", json={"pattern": pattern})
        assert r.status_code == 200 and r.json() == {"success": True}
    assert client.get("/api/permissions").json() == {
        "permissions": ["Read(*)", "Bash(git *)", "Write(src/**)", "mcp__*", "create_task"]}
    r = client.request("DELETE", "/api/permissions", json={"pattern": "mcp__*"})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert "mcp__*" not in client.get("/api/permissions").json()["permissions"]
    assert client.request("DELETE", "/api/permissions", json={"pattern": "absent"}).status_code == 200


@pytest.mark.parametrize("body", [{}, {"pattern": ""}, {"pattern": "  "}, {"pattern": 3}, {"pattern": None}])
def test_a_pattern_is_required(client, body):
    r = client.post("/api/permissions", json=body)
    assert r.status_code == 400 and r.json() == {"error": "pattern (string) is required"}
    assert client.get("/api/permissions").json() == {"permissions": []}


@pytest.mark.parametrize("body", [{}, {"pattern": 3}, {"pattern": None}, [1]])
def test_delete_needs_a_string(client, body):
    r = client.request("DELETE", "/api/permissions", json=body)
    assert r.status_code == 400 and r.json() == {"error": "pattern (string) is required"}


def test_any_stored_pattern_can_be_deleted(daemon, client):
    """Patterns that would be refused today (empty, malformed, too long) were stored by older
    versions or by hand: DELETE removes the exact string, whatever it is."""
    stored = ["", "Read(", "x" * 600, "create_task"]
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('permissions.allow', ?, '2026')",
                     (json.dumps(stored),))
    for pattern in stored[:3]:
        r = client.request("DELETE", "/api/permissions", json={"pattern": pattern})
        assert r.status_code == 200 and r.json() == {"success": True}
    assert client.get("/api/permissions").json() == {"permissions": ["create_task"]}
    client.request("DELETE", "/api/permissions", json={"pattern": " create_task "})  # as POST stored it
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_a_malformed_pattern_is_refused(client):
    for pattern in ("Read(", "Bash(git *", "has space", "x" * 600):
        r = client.post("/api/permissions", json={"pattern": pattern})
        assert r.status_code == 400 and r.json()["error"].startswith("Invalid pattern")
    assert client.post("/api/permissions", content=b"{nope").status_code == 400
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_project_and_profile_additions_are_separate_lists(client):
    project = client.post("/api/projects", json={"name": "p"}).json()
    client.post("/api/permissions", json={"pattern": "create_task", "projectId": project["id"]})
    client.post("/api/permissions", json={"pattern": "execute_task", "profileId": "researcher"})
    assert client.get("/api/permissions").json() == {"permissions": []}
    assert client.get(f"/api/permissions?projectId={project['id']}").json() == {"permissions": ["create_task"]}
    assert client.get("/api/permissions?profileId=researcher").json() == {"permissions": ["execute_task"]}
    r = client.post("/api/permissions", json={"pattern": "x", "projectId": project["id"], "profileId": "r"})
    assert r.status_code == 400
    assert client.post("/api/permissions", json={"pattern": "x", "projectId": 5}).status_code == 400
    client.request("DELETE", "/api/permissions", json={"pattern": "create_task", "projectId": project["id"]})
    assert client.get(f"/api/permissions?projectId={project['id']}").json() == {"permissions": []}


# ---- presets -------------------------------------------------------------------------------------

def presets(client, query: str = "") -> dict:
    return {p["id"]: p for p in client.get(f"/api/permissions/presets{query}").json()["presets"]}


def test_presets_list_with_the_active_flag(client):
    listed = presets(client)
    assert list(listed) == ["read-only", "git-safe", "full-auto"]
    assert listed["read-only"] == {"id": "read-only", "name": "Read Only",
                                   "description": "Safe read operations — no file mutations or shell commands",
                                   "risk": "low", "patterns": ["Read", "Glob", "Grep", "LS", "NotebookRead"],
                                   "active": False}
    assert "Bash(command:git *)" in listed["git-safe"]["patterns"]
    assert not any(p["active"] for p in listed.values())


def test_enabling_and_disabling_presets(client):
    client.post("/api/permissions", json={"pattern": "create_task"})
    assert client.post("/api/permissions/presets", json={"presetId": "git-safe"}).json() == {"success": True}
    listed = presets(client)
    assert listed["git-safe"]["active"] and listed["read-only"]["active"] and not listed["full-auto"]["active"]
    assert client.post("/api/permissions/presets", json={"presetId": "full-auto"}).status_code == 200
    allow = client.get("/api/permissions").json()["permissions"]
    assert len(allow) == len(set(allow)) and allow[0] == "create_task"

    # git-safe off: only what no other active preset needs goes (full-auto keeps Write, Edit, ...)
    assert client.request("DELETE", "/api/permissions/presets", json={"presetId": "git-safe"}).status_code == 200
    allow = client.get("/api/permissions").json()["permissions"]
    assert "Bash(command:git *)" not in allow and {"Write", "Edit", "Read", "Bash"} <= set(allow)
    client.request("DELETE", "/api/permissions/presets", json={"presetId": "full-auto"})
    client.request("DELETE", "/api/permissions/presets", json={"presetId": "read-only"})
    assert client.get("/api/permissions").json() == {"permissions": ["create_task"]}


def test_preset_errors(client):
    for method in ("POST", "DELETE"):
        r = client.request(method, "/api/permissions/presets", json={"presetId": "developer-tools"})
        assert r.status_code == 404 and r.json() == {"error": "Unknown preset: developer-tools"}
        r = client.request(method, "/api/permissions/presets", json={})
        assert r.status_code == 400 and r.json() == {"error": "presetId (string) is required"}
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_presets_apply_to_a_project_list(client):
    project = client.post("/api/projects", json={"name": "p"}).json()
    client.post("/api/permissions/presets", json={"presetId": "read-only", "projectId": project["id"]})
    assert presets(client, f"?projectId={project['id']}")["read-only"]["active"]
    assert not presets(client)["read-only"]["active"]


# ---- the approval timeout (extension) -----------------------------------------------------------

def test_the_approval_timeout_setting(client):
    assert client.get("/api/permissions/settings").json() == {"requestTimeoutSeconds": 600.0, "approvalChannels": []}
    r = client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 90})
    assert r.status_code == 200 and r.json() == {"requestTimeoutSeconds": 90.0, "approvalChannels": []}
    for bad in (0, -1, "10", None, 10 ** 9):
        r = client.put("/api/permissions/settings", json={"requestTimeoutSeconds": bad})
        assert r.status_code == 400 and "requestTimeoutSeconds" in r.json()["error"]["fieldErrors"]
    assert client.get("/api/permissions/settings").json() == {"requestTimeoutSeconds": 90.0, "approvalChannels": []}

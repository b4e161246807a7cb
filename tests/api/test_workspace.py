"""/api/workspace: launch context, discovery over a temporary tree (markers, depth, git branch
from .git/HEAD, symlinks out of the parent never followed), import as SSE."""

from __future__ import annotations

import os

from tests.helpers.sse import iter_events


def make_tree(root):
    (root / "alpha" / ".git").mkdir(parents=True)
    (root / "alpha" / ".git" / "HEAD").write_text("ref: refs/heads/feature/login\n")
    (root / "alpha" / "package.json").write_text("{}")
    (root / "alpha" / "CLAUDE.md").write_text("# rules")
    (root / "group" / "beta").mkdir(parents=True)
    (root / "group" / "beta" / "AGENTS.md").write_text("agents")
    (root / "group" / "beta" / "Cargo.toml").write_text("")
    (root / "group" / "deep" / "deeper" / "gamma").mkdir(parents=True)
    (root / "group" / "deep" / "deeper" / "gamma" / "go.mod").write_text("module x")
    (root / "plain" / "notes").mkdir(parents=True)
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "package.json").write_text("{}")
    wt = root / "worktree"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {root / 'alpha' / '.git'}\n")


def test_context_has_both_field_sets(client):
    r = client.get("/api/workspace/context")
    assert r.status_code == 200 and r.headers["cache-control"] == "private, max-age=60"
    body = r.json()
    for key in ("cwd", "folderName", "parentPath", "gitBranch", "isWorktree", "platform", "arch", "nodeVersion",
                "homedir"):
        assert key in body
    assert body["cwd"] == os.getcwd() and body["folderName"] == os.path.basename(os.getcwd())


def test_discover_by_markers_and_depth(client, tmp_path):
    root = tmp_path / "code"
    make_tree(root)
    r = client.post("/api/workspace/discover", json={"parentDir": str(root)})
    assert r.status_code == 200, r.text
    body = r.json()
    found = {p["folderName"]: p for p in body["projects"]}
    assert set(found) == {"alpha", "beta", "worktree"}  # gamma is at depth 4 > 2; node_modules skipped
    alpha = found["alpha"]
    assert alpha["gitBranch"] == "feature/login" and set(alpha["markers"]) >= {"claude", "git", "package.json"}
    assert alpha["artifactHints"]["hasInstructions"] and alpha["totalArtifactEstimate"] == 0
    assert alpha["contents"]["manifests"] == ["package.json"] and alpha["alreadyImported"] is False
    assert found["worktree"]["gitBranch"] == "feature/login"
    assert body["searchPath"] == str(root) and body["depth"] == 2 and body["errors"] == []

    deeper = client.post("/api/workspace/discover", json={"parentDir": str(root), "maxDepth": 3}).json()
    assert "gamma" not in {p["folderName"] for p in deeper["projects"]}  # group/deep/deeper/gamma is depth 4
    shallow = client.post("/api/workspace/discover", json={"parentDir": str(root), "maxDepth": 1}).json()
    assert {p["folderName"] for p in shallow["projects"]} == {"alpha", "worktree"}
    only_go = client.post("/api/workspace/discover", json={"parentDir": str(root / "group"), "maxDepth": 3,
                                                            "markers": ["go.mod"]}).json()
    assert [p["folderName"] for p in only_go["projects"]] == ["gamma"]


def test_discover_never_follows_a_symlink_out_of_the_parent(client, tmp_path):
    root, outside = tmp_path / "code", tmp_path / "elsewhere"
    (outside / "secret-project").mkdir(parents=True)
    (outside / "secret-project" / "package.json").write_text("{}")
    (root / "inside" / "package.json").parent.mkdir(parents=True)
    (root / "inside" / "package.json").write_text("{}")
    (root / "escape").symlink_to(outside)
    (root / "escape-project").symlink_to(outside / "secret-project")
    (root / "loop").symlink_to(root)
    (root / "alias").symlink_to(root / "inside")
    body = client.post("/api/workspace/discover", json={"parentDir": str(root), "maxDepth": 3}).json()
    paths = [p["path"] for p in body["projects"]]
    assert paths == [str(root / "inside")]  # the alias resolves to the same folder: listed once
    assert not any("elsewhere" in p for p in paths)


def test_discover_validation(client, tmp_path):
    for bad in ({}, {"parentDir": ""}, {"parentDir": str(tmp_path), "maxDepth": 4},
                {"parentDir": str(tmp_path), "maxDepth": 0}, {"parentDir": str(tmp_path), "markers": "git"}):
        r = client.post("/api/workspace/discover", json=bad)
        assert r.status_code == 400 and "fieldErrors" in r.json()["error"], bad
    r = client.post("/api/workspace/discover", json={"parentDir": str(tmp_path / "missing")})
    assert r.status_code == 400 and r.json()["error"].startswith("Directory not found")
    assert client.post("/api/workspace/discover", json={"parentDir": "relative/dir"}).status_code == 400


def test_import_streams_progress_then_complete(client, tmp_path):
    root = tmp_path / "code"
    make_tree(root)
    projects = [{"path": str(root / "alpha"), "name": "Alpha"},
                {"path": str(root / "missing"), "name": "Ghost"},
                {"path": str(root / "group" / "beta"), "name": "Beta"}]
    with client.stream("POST", "/api/workspace/import", json={"projects": projects}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [e.json() for e in iter_events(r.iter_lines())]
    assert [(e.get("index"), e.get("status")) for e in events[:-1]] == [
        (0, "creating"), (0, "done"), (1, "creating"), (1, "failed"), (2, "creating"), (2, "done")]
    assert events[1]["projectId"] and events[1]["artifactCount"] == 0 and "not an existing folder" in events[3]["error"]
    assert events[-1] == {"type": "complete", "created": 2, "failed": 1}
    by_name = {p["name"]: p for p in client.get("/api/projects").json()}
    assert by_name["Alpha"]["workingDirectory"] == str(root / "alpha")

    again = client.post("/api/workspace/discover", json={"parentDir": str(root)}).json()
    assert {p["folderName"]: p["alreadyImported"] for p in again["projects"]}["alpha"] is True
    with client.stream("POST", "/api/workspace/import", json={"projects": projects[:1]}) as r:
        events = [e.json() for e in iter_events(r.iter_lines())]
    assert events[1]["status"] == "failed" and "Already imported" in events[1]["error"]

    for bad in ({}, {"projects": []}, {"projects": [{"path": "/x"}]}, {"projects": [{"path": "/x", "name": ""}]}):
        r = client.post("/api/workspace/import", json=bad)
        assert r.status_code == 400 and "fieldErrors" in r.json()["error"], bad


def test_author_default_is_the_os_user(client):
    import getpass

    assert client.get("/api/settings/author-default").json() == {"author": getpass.getuser()}

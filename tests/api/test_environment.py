"""/api/environment over real HTTP against a fake home and project: scan counts per category,
secrets masked everywhere, sync both ways with the TOML's comments kept, a conflict, rollback
byte for byte, a checkpoint in a real git repository, suggestions -> profile, templates, and
every documented status."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.environment import ANTHROPIC_KEY, DB_PASSWORD, EXPECTED_COUNTS, GITHUB_TOKEN, LINEAR_KEY, fake_setup

SECRETS = (ANTHROPIC_KEY, DB_PASSWORD, GITHUB_TOKEN, LINEAR_KEY)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    for name in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(name, "Test")
    for name in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(name, "test@example.com")
    return fake_setup(tmp_path, monkeypatch)


def scan(client, project) -> dict:
    r = client.post("/api/environment/scan", json={"projectDir": str(project)})
    assert r.status_code == 200, r.text
    return r.json()


def artifact(client, name, category="mcp-server") -> dict:
    found = client.get("/api/environment/artifacts", params={"category": category, "search": name}).json()
    return next(a for a in found["artifacts"] if a["name"] == name)


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_scan_counts_filters_and_statuses(client, setup):
    home, project = setup
    assert client.get("/api/environment/scan").json() == {"scan": None, "message": "No scan found"}
    assert client.get("/api/environment/artifacts").json()["artifacts"] == []
    body = scan(client, project)
    summary = body["summary"]
    assert summary["categoryCounts"] == EXPECTED_COUNTS
    assert summary["totalArtifacts"] == sum(EXPECTED_COUNTS.values()) == body["scan"]["artifactCount"]
    assert summary["toolCounts"] == {"claude-code": 16, "codex": 5} and summary["personas"] == ["claude-code", "codex"]
    assert summary["errors"] == 0 and body["scan"]["scanStatus"] == "completed"
    health = summary["health"]
    assert set(health["dimensions"]) == {"instructions", "safety", "capability", "maintenance"}
    # instructions: CLAUDE.md 30 + AGENTS.md 30 + memory 25 + >=2 files 15
    assert health["dimensions"]["instructions"]["score"] == 100
    assert health["dimensions"]["safety"]["score"] == 100
    # capability: 4 skills 10, 4 MCP 30, plugin 15, output style 8, rule 7
    assert health["dimensions"]["capability"]["score"] == 70
    # maintenance: fresh 30, 21 artifacts 20, completed 20, no errors 20
    assert health["dimensions"]["maintenance"]["score"] == 90
    assert health["overall"] == 90 and health["recommendations"] == []

    latest = client.get("/api/environment/scan").json()
    assert latest["scan"]["id"] == body["scan"]["id"] and latest["summary"]["categoryCounts"] == EXPECTED_COUNTS
    assert client.get("/api/environment/scan", params={"scanId": body["scan"]["id"]}).json()["scan"]["id"] == \
        body["scan"]["id"]

    codex = client.get("/api/environment/artifacts", params={"tool": "codex"}).json()
    assert codex["count"] == 5 and {a["tool"] for a in codex["artifacts"]} == {"codex"}
    project_scope = client.get("/api/environment/artifacts", params={"scope": "project"}).json()["artifacts"]
    assert sorted(a["name"] for a in project_scope) == ["AGENTS.md", "CLAUDE.md", "postgres", "settings.json"]
    found = client.get("/api/environment/artifacts", params={"search": "pdf"}).json()["artifacts"]
    assert [a["name"] for a in found] == ["pdf"]
    pdf = found[0]
    assert pdf["relPath"] == ".claude/skills/pdf/SKILL.md" and pdf["category"] == "skill"
    assert pdf["sizeBytes"] == (home / ".claude/skills/pdf/SKILL.md").stat().st_size
    assert len(pdf["contentHash"]) == 64 and json.loads(pdf["metadata"])["description"] == "Read and write PDF files"
    one = client.get(f"/api/environment/artifacts/{pdf['id']}")
    assert one.status_code == 200 and one.json()["artifact"]["preview"].startswith("---\nname: pdf")

    assert client.get("/api/environment/artifacts/nope").status_code == 404
    assert client.get("/api/environment/artifacts", params={"category": "bogus"}).status_code == 400
    assert client.get("/api/environment/artifacts", params={"scanId": "nope"}).status_code == 400
    assert client.post("/api/environment/scan", json={"projectDir": "relative/dir"}).status_code == 400
    assert client.post("/api/environment/scan", json={"projectDir": str(project / "missing")}).status_code == 400
    assert client.post("/api/environment/scan", json={"projectId": "nope"}).status_code == 400
    assert client.post("/api/environment/scan", json={"projectDir": 5}).status_code == 400


def test_scan_never_leaves_its_roots(client, setup, tmp_path):
    home, project = setup
    outside = tmp_path / "outside"
    (outside / "skill").mkdir(parents=True)
    (outside / "skill" / "SKILL.md").write_text("---\nname: outside\n---\n")
    (outside / "secret.md").write_text("outside text\n")
    (home / ".claude" / "skills" / "linked").symlink_to(outside / "skill")
    (home / ".claude" / "rules" / "linked.md").symlink_to(outside / "secret.md")
    body = scan(client, project)
    names = {a["name"] for a in client.get("/api/environment/artifacts").json()["artifacts"]}
    assert "linked" not in names and "outside" not in names
    assert body["summary"]["categoryCounts"] == EXPECTED_COUNTS and body["summary"]["errors"] == 1
    assert "symlink out of its root" in body["scan"]["errors"]


def test_secrets_are_masked_in_every_answer(client, setup):
    _, project = setup
    body = scan(client, project)
    listed = client.get("/api/environment/artifacts").json()["artifacts"]
    texts = [json.dumps(body), json.dumps(listed)]
    texts += [client.get(f"/api/environment/artifacts/{a['id']}").text for a in listed]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    github = artifact(client, "github")
    assert json.loads(github["metadata"])["env"] == {"GITHUB_TOKEN": "[REDACTED]"}
    assert "[REDACTED]" in github["preview"]
    settings = next(a for a in listed if a["relPath"] == ".claude/settings.json" and a["scope"] == "user"
                    and a["category"] == "permission")
    assert "[REDACTED]" in settings["preview"] and "Bash(npm test)" in settings["preview"]

    preview = client.post("/api/environment/sync/preview", json={"operations": [
        {"artifactId": github["id"], "operation": "sync", "targetTool": "codex"}]}).json()
    assert "[mcp_servers.github]" in preview["previews"][0]["diff"]["diff"]
    history_text = json.dumps(preview)
    for secret in SECRETS:
        assert secret not in history_text


def test_mcp_server_synced_both_ways_keeps_toml_comments(client, setup):
    home, project = setup
    scan(client, project)
    config, mcp = home / ".codex" / "config.toml", home / ".claude" / ".mcp.json"
    github = artifact(client, "github")
    previewed = client.post("/api/environment/sync/preview", json={"operations": [
        {"artifactId": github["id"], "operation": "sync", "targetTool": "codex"}]}).json()
    item = previewed["previews"][0]
    assert item["targetPath"] == str(config) and item["hasConflict"] is False and item["diff"]["additions"] >= 3
    assert previewed["summary"] == {"total": 1, "conflicts": 0, "newFiles": 0,
                                    "totalAdditions": item["diff"]["additions"], "totalDeletions": 0}
    applied = client.post("/api/environment/sync", json={"operations": [
        {"artifactId": github["id"], "operation": "sync", "targetTool": "codex",
         "targetHash": item["syncOp"]["targetHash"]}]}).json()
    assert applied["summary"] == {"applied": 1, "failed": 0, "total": 1}
    text = config.read_text()
    for kept in ("# Codex configuration, edited by hand", 'model = "o3"  # the default model',
                 "command = \"npx\"  # runs the Linear server", "# trailing comment that must survive"):
        assert kept in text
    assert "[mcp_servers.github]" in text and GITHUB_TOKEN in text  # the real value is written
    assert text.index("[mcp_servers.linear]") < text.index("[mcp_servers.github]")

    linear = artifact(client, "linear")
    applied = client.post("/api/environment/sync", json={"operations": [
        {"artifactId": linear["id"], "operation": "sync", "targetTool": "claude-code"}]}).json()
    assert applied["summary"]["applied"] == 1
    servers = json.loads(mcp.read_text())["mcpServers"]
    assert list(servers) == ["github", "fetch", "linear"]
    assert servers["linear"] == {"command": "npx", "args": ["-y", "linear-mcp"], "env": {"LINEAR_API_KEY": LINEAR_KEY}}

    scan(client, project)  # both servers now live in both tools
    shared = client.get("/api/environment/artifacts", params={"tool": "shared"}).json()["artifacts"]
    assert {a["name"] for a in shared} == {"github", "linear"}
    assert all(json.loads(a["metadata"])["inSync"] for a in shared)

    history = client.get("/api/environment/sync/history").json()
    assert history["count"] == 2 and history["history"][0]["checkpoint"]["checkpointType"] == "pre-sync"
    assert history["history"][0]["operations"][0]["status"] == "applied"
    assert GITHUB_TOKEN not in json.dumps(history) and LINEAR_KEY not in json.dumps(history)
    assert client.get("/api/environment/sync/history", params={"limit": 1}).json()["count"] == 1
    assert client.get("/api/environment/sync/history", params={"limit": 0}).status_code == 400


def test_changed_target_is_a_conflict_and_not_written(client, setup):
    home, project = setup
    scan(client, project)
    github = artifact(client, "github")
    op = {"artifactId": github["id"], "operation": "sync", "targetTool": "codex"}
    item = client.post("/api/environment/sync/preview", json={"operations": [op]}).json()["previews"][0]
    config = home / ".codex" / "config.toml"
    config.write_text(config.read_text() + 'personality = "friendly"\n')  # edited after the preview
    edited = config.read_bytes()
    result = client.post("/api/environment/sync", json={"operations": [
        {**op, "targetHash": item["syncOp"]["targetHash"]}]}).json()
    assert result["summary"] == {"applied": 0, "failed": 1, "total": 1}
    assert result["operations"][0]["conflict"] is True and "changed since the preview" in result["operations"][0]["error"]
    assert config.read_bytes() == edited

    # a target that already holds a different version of the server is flagged in the preview
    (home / ".codex" / "config.toml").write_text('[mcp_servers.github]\ncommand = "old-github"\n')
    again = client.post("/api/environment/sync/preview", json={"operations": [op]}).json()
    assert again["previews"][0]["hasConflict"] is True and again["summary"]["conflicts"] == 1


def test_rollback_restores_files_byte_for_byte(client, setup):
    home, project = setup
    scan(client, project)
    config, mcp = home / ".codex" / "config.toml", home / ".claude" / ".mcp.json"
    before = {config: config.read_bytes(), mcp: mcp.read_bytes()}
    prompt = home / ".claude" / "skills" / "deploy" / "SKILL.md"
    ops = [{"artifactId": artifact(client, "github")["id"], "operation": "sync", "targetTool": "codex"},
           {"artifactId": artifact(client, "linear")["id"], "operation": "sync", "targetTool": "claude-code"},
           {"artifactId": artifact(client, "deploy", "skill")["id"], "operation": "create", "targetTool": "claude-code"}]
    result = client.post("/api/environment/sync", json={"operations": ops, "label": "three at once"}).json()
    assert result["summary"] == {"applied": 3, "failed": 0, "total": 3}
    assert prompt.read_text().startswith("---\nname: deploy\n")
    assert config.read_bytes() != before[config] and mcp.read_bytes() != before[mcp]

    detail = client.get(f"/api/environment/checkpoints/{result['checkpointId']}").json()
    assert detail["checkpoint"]["label"] == "three at once" and len(detail["syncOps"]) == 3
    assert detail["diff"] is None  # the project is not a git repository
    assert "not a git repository" in detail["checkpoint"]["gitNote"]
    r = client.post(f"/api/environment/checkpoints/{result['checkpointId']}")
    assert r.status_code == 200, r.text
    backup = r.json()["results"]["backup"]
    assert backup["errors"] == [] and backup["restored"] == 3
    actions = {f["path"]: f["action"] for f in backup["files"]}
    assert actions[str(config)] == "restored" and actions[str(prompt)] == "removed"
    assert config.read_bytes() == before[config] and mcp.read_bytes() == before[mcp] and not prompt.exists()
    after = client.get(f"/api/environment/checkpoints/{result['checkpointId']}").json()
    assert after["checkpoint"]["status"] == "rolled_back"
    assert {op["status"] for op in after["syncOps"]} == {"rolled_back"}
    assert client.post(f"/api/environment/checkpoints/{result['checkpointId']}").status_code == 400
    assert client.post("/api/environment/checkpoints/nope").status_code == 404
    assert client.get("/api/environment/checkpoints/nope").status_code == 404


def test_checkpoint_tags_a_clean_git_repository(client, setup):
    home, project = setup
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "initial")
    r = client.post("/api/environment/checkpoints", json={"projectDir": str(project), "label": "before"})
    assert r.status_code == 200
    checkpoint = r.json()["checkpoint"]
    assert checkpoint["gitTag"] in git(project, "tag").split()
    assert checkpoint["gitCommitSha"] == git(project, "rev-parse", "HEAD").strip()
    assert checkpoint["checkpointType"] == "manual" and checkpoint["filesCount"] == 3  # the .claude/.codex files

    (project / "CLAUDE.md").write_text("# Changed and committed\n")
    git(project, "commit", "-qam", "change")
    diff = client.get(f"/api/environment/checkpoints/{checkpoint['id']}").json()["diff"]
    assert "+# Changed and committed" in diff
    (project / "AGENTS.md").write_text("uncommitted\n")
    failed = client.post(f"/api/environment/checkpoints/{checkpoint['id']}")
    assert failed.status_code == 500 and "uncommitted" in failed.json()["error"]
    git(project, "checkout", "--", "AGENTS.md")
    ok = client.post(f"/api/environment/checkpoints/{checkpoint['id']}").json()
    assert ok["results"]["git"] == {"success": True}
    assert (project / "CLAUDE.md").read_text() == "# Project\n\nThis is the project.\n"

    # the rollback left the tag's files as uncommitted changes (history untouched): commit them;
    # a sync's automatic checkpoint then tags the clean repository, and writes a project file
    assert git(project, "status", "--porcelain").strip() == "M  CLAUDE.md"  # staged
    git(project, "commit", "-qam", "back to the checkpoint")
    scan(client, project)
    postgres = artifact(client, "postgres")
    synced = client.post("/api/environment/sync", json={"operations": [
        {"artifactId": postgres["id"], "operation": "sync", "targetTool": "codex"}]}).json()
    assert synced["summary"]["applied"] == 1 and (project / ".codex" / "config.toml").is_file()
    pre_sync = client.get(f"/api/environment/checkpoints/{synced['checkpointId']}").json()["checkpoint"]
    assert pre_sync["checkpointType"] == "pre-sync" and pre_sync["gitTag"] in git(project, "tag").split()
    assert client.post(f"/api/environment/checkpoints/{pre_sync['id']}").status_code == 200
    assert not (project / ".codex" / "config.toml").exists()

    (project / "AGENTS.md").write_text("dirty\n")
    dirty = client.post("/api/environment/checkpoints", json={"projectDir": str(project)}).json()["checkpoint"]
    assert dirty["gitTag"] is None and "uncommitted changes" in dirty["gitNote"]
    listed = client.get("/api/environment/checkpoints").json()["checkpoints"]
    assert [c["id"] for c in listed] == [dirty["id"], pre_sync["id"], checkpoint["id"]]


def test_checkpoint_statuses(client, setup):
    home, project = setup
    for bad in ({"globalPaths": ["/etc/passwd"]}, {"globalPaths": [str(home / ".claude")]},
                {"checkpointType": "weekly"}, {"projectDir": "nope"}, {"label": 3}):
        assert client.post("/api/environment/checkpoints", json=bad).status_code == 400, bad
    r = client.post("/api/environment/checkpoints", json={"projectDir": str(project),
                                                          "globalPaths": ["~/.codex/config.toml"]})
    assert r.status_code == 200 and r.json()["checkpoint"]["filesCount"] == 1


def test_sync_statuses(client, setup):
    home, project = setup
    scan(client, project)
    github = artifact(client, "github")
    settings = next(a for a in client.get("/api/environment/artifacts", params={"category": "permission"}).json()[
        "artifacts"] if a["tool"] == "claude-code")
    for bad in ({}, {"operations": []}, {"operations": [{"artifactId": "nope", "operation": "sync",
                                                         "targetTool": "codex"}]},
                {"operations": [{"artifactId": github["id"], "operation": "move", "targetTool": "codex"}]},
                {"operations": [{"artifactId": github["id"], "operation": "sync", "targetTool": "claude-code"}]},
                {"operations": [{"artifactId": settings["id"], "operation": "sync", "targetTool": "codex"}]},
                {"operations": [{"artifactId": github["id"], "operation": "sync", "targetTool": "codex",
                                 "targetPath": "/etc/passwd"}]}):
        for path in ("/api/environment/sync/preview", "/api/environment/sync"):
            assert client.post(path, json=bad).status_code == 400, (path, bad)
    assert client.get("/api/environment/sync/history").json() == {"history": [], "count": 0}


def test_suggestions_become_profiles(client, setup):
    _, project = setup
    body = scan(client, project)
    tiered = client.get("/api/environment/profiles/suggest", params={"tiered": "true"}).json()
    curated = {s["ruleId"]: s for s in tiered["curated"]}
    assert {"security-reviewer", "document-specialist", "repository-maintainer", "researcher",
            "devops-engineer"} <= set(curated)  # devops: the codex prompt `deploy`
    assert tiered["curatedCount"] == len(tiered["curated"])
    security = curated["security-reviewer"]
    assert security["tier"] == "curated" and security["matchedArtifacts"][0]["name"] == "security-review"
    assert 0.7 <= security["confidence"] <= 1
    discovered = {s["ruleId"]: s for s in tiered["discovered"]}
    assert set(discovered) == {"discovered-changelog-writer"}
    assert discovered["discovered-changelog-writer"]["name"] == "Changelog Writer"
    assert discovered["discovered-changelog-writer"]["confidence"] == 0.5
    flat = client.get("/api/environment/profiles/suggest", params={"scanId": body["scan"]["id"]}).json()
    assert flat["count"] == len(flat["suggestions"]) == tiered["curatedCount"] + tiered["discoveredCount"]

    r = client.post("/api/environment/profiles/create", json={"suggestion": security,
                                                             "overrides": {"name": "AppSec Reviewer"}})
    assert r.status_code == 201 and r.json()["profileId"] == "env-security-reviewer"
    profile = client.get("/api/profiles/env-security-reviewer").json()
    assert profile["name"] == "AppSec Reviewer" and "You review code for security problems" in profile["skillMd"]
    assert "security" in profile["tags"] and profile["scope"] == "user"
    assert client.post("/api/environment/profiles/create", json={"suggestion": security}).status_code == 400
    assert client.post("/api/environment/profiles/create", json={}).status_code == 400
    assert client.post("/api/environment/profiles/create", json={"suggestion": {"name": "x"}}).status_code == 400

    changelog = discovered["discovered-changelog-writer"]
    assert client.post("/api/environment/profiles/create", json={"suggestion": changelog}).status_code == 201
    again = client.get("/api/environment/profiles/suggest", params={"tiered": "true"}).json()
    assert "discovered-changelog-writer" not in {s["ruleId"] for s in again["discovered"]}
    assert client.get("/api/environment/profiles/suggest", params={"scanId": "nope"}).status_code == 400


def test_templates_capture_a_manifest(client, setup):
    _, project = setup
    body = scan(client, project)
    r = client.post("/api/environment/templates", json={"scanId": body["scan"]["id"], "name": "My setup",
                                                        "description": "laptop"})
    assert r.status_code == 201
    template = r.json()["template"]
    assert template["artifactCount"] == sum(EXPECTED_COUNTS.values()) and template["scope"] == "user"
    detail = client.get(f"/api/environment/templates/{template['id']}").json()
    manifest = detail["manifest"]
    assert {"skills", "mcpServers", "permissions", "instructions", "hooks", "memory"} <= set(manifest)
    assert sorted(s["name"] for s in manifest["mcpServers"]) == ["fetch", "github", "linear", "postgres"]
    assert GITHUB_TOKEN not in json.dumps(detail)
    assert [t["id"] for t in client.get("/api/environment/templates").json()["templates"]] == [template["id"]]
    for bad in ({}, {"scanId": body["scan"]["id"]}, {"scanId": "nope", "name": "x"},
                {"scanId": body["scan"]["id"], "name": "  "}):
        assert client.post("/api/environment/templates", json=bad).status_code == 400
    assert client.delete(f"/api/environment/templates/{template['id']}").json() == {"message": "Template deleted"}
    assert client.delete(f"/api/environment/templates/{template['id']}").status_code == 404
    assert client.get(f"/api/environment/templates/{template['id']}").status_code == 404


def test_home_is_read_per_request(client, setup, tmp_path, monkeypatch):
    _, project = setup
    empty = tmp_path / "empty-home"
    empty.mkdir()
    monkeypatch.setenv("HOME", str(empty))
    summary = scan(client, project)["summary"]
    assert summary["totalArtifacts"] == 4  # the project's files only
    assert "Missing AGENTS.md" not in " ".join(summary["health"]["recommendations"])
    assert Path(scan(client, project)["scan"]["homePath"]) == empty


def test_a_stale_scan_is_rescanned_in_the_background(daemon, client, setup):
    _, project = setup
    first = scan(client, project)["scan"]
    assert client.get("/api/environment/scan").json()["refreshing"] is False
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.execute("UPDATE environment_scans SET scanned_at = '2020-01-01T00:00:00.000Z'")
    stale = client.get("/api/environment/scan").json()
    assert stale["scan"]["id"] == first["id"] and stale["refreshing"] is True
    assert stale["summary"]["health"]["dimensions"]["maintenance"]["score"] == 60  # old scan: no age points
    deadline = time.monotonic() + 30
    while (latest := client.get("/api/environment/scan").json()["scan"])["id"] == first["id"]:
        assert time.monotonic() < deadline, "no background re-scan"
        time.sleep(0.05)
    assert latest["scanPath"] == str(project) and latest["artifactCount"] == first["artifactCount"]

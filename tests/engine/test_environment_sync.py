"""engine/environment without HTTP: the sync plans against real files in a fake home (MCP
servers both ways, TOML comments and order kept, edits in place, deletes, two operations on
one file, conflicts, masked diffs), the scanner's bounds and the health score."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta

from stagent.engine.environment import health, scanner, sync
from stagent.engine.environment.scanner import Limits
from tests.helpers.environment import CODEX_CONFIG, EXPECTED_COUNTS, GITHUB_TOKEN, LINEAR_KEY, fake_setup


def scanned(home, project) -> dict:
    """The scan's artifacts by name, shaped as the store hands them out (camelCase)."""
    out = {}
    for a in scanner.scan(home, project)["artifacts"]:
        out[a["name"]] = {"id": a["name"], "name": a["name"], "category": a["category"], "tool": a["tool"],
                          "scope": a["scope"], "absPath": a["abs_path"], "metadata": json.dumps(a["metadata"])}
    return out


def plan(home, project, artifact, tool, operation="sync") -> sync.Plan:
    request = {"artifact_id": artifact["id"], "operation": operation, "target_tool": tool, "target_path": None}
    return sync.Plan(request, artifact, sync.check_request(request, artifact, home, project))


def test_mcp_server_into_codex_toml_keeps_comments_and_order(tmp_path, monkeypatch):
    home, project = fake_setup(tmp_path, monkeypatch)
    artifacts = scanned(home, project)
    plans = [plan(home, project, artifacts["github"], "codex"), plan(home, project, artifacts["fetch"], "codex")]
    previews, contents = sync.plan_all(plans)
    text = contents[home / ".codex" / "config.toml"].decode()
    assert text.startswith(CODEX_CONFIG.rstrip("\n"))  # everything before is untouched, byte for byte
    data = tomllib.loads(text)
    assert list(data["mcp_servers"]) == ["linear", "github", "fetch"]
    assert data["mcp_servers"]["github"]["env"] == {"GITHUB_TOKEN": GITHUB_TOKEN}
    assert data["mcp_servers"]["fetch"] == {"command": "uvx", "args": ["mcp-server-fetch"]}
    # the second preview diffs against what the first leaves; neither shows the token
    assert "[mcp_servers.fetch]" in previews[1]["diff"]["diff"] and "+[mcp_servers.github]" not in previews[1]["diff"]["diff"]
    assert GITHUB_TOKEN not in json.dumps(previews) and "[REDACTED]" in previews[0]["diff"]["diff"]
    assert previews[0]["syncOp"]["targetHash"] == previews[1]["syncOp"]["targetHash"]


def test_mcp_server_into_claude_json_and_back_in_place(tmp_path, monkeypatch):
    home, project = fake_setup(tmp_path, monkeypatch)
    artifacts = scanned(home, project)
    previews, contents = sync.plan_all([plan(home, project, artifacts["linear"], "claude-code")])
    target = home / ".claude" / ".mcp.json"
    servers = json.loads(contents[target])["mcpServers"]
    assert servers["linear"] == {"command": "npx", "args": ["-y", "linear-mcp"], "env": {"LINEAR_API_KEY": LINEAR_KEY}}
    assert previews[0]["hasConflict"] is False and LINEAR_KEY not in previews[0]["diff"]["diff"]
    sync.write_files(contents)

    # Claude's copy changes; syncing it back edits Codex's table in place, its comment kept
    config = json.loads(target.read_text())
    config["mcpServers"]["linear"]["args"] = ["-y", "linear-mcp@2"]
    target.write_text(json.dumps(config, indent=2))
    linear = scanned(home, project)["linear"]
    assert linear["tool"] == "shared" and json.loads(linear["metadata"])["inSync"] is False
    previews, contents = sync.plan_all([plan(home, project, linear, "codex")])
    assert previews[0]["hasConflict"] is True  # Codex holds a different version of the server
    text = contents[home / ".codex" / "config.toml"].decode()
    assert 'command = "npx"  # runs the Linear server' in text and "linear-mcp@2" in text
    assert "# trailing comment that must survive" in text
    assert previews[0]["diff"]["additions"] == 1 and previews[0]["diff"]["deletions"] == 1


def test_delete_skill_prompt_and_instruction_operations(tmp_path, monkeypatch):
    home, project = fake_setup(tmp_path, monkeypatch)
    artifacts = scanned(home, project)
    previews, contents = sync.plan_all([
        plan(home, project, artifacts["github"], "codex", "delete"),
        plan(home, project, artifacts["pdf"], "codex"),
        plan(home, project, artifacts["deploy"], "claude-code"),
    ])
    assert "[mcp_servers.github]" not in contents[home / ".codex/config.toml"].decode()
    assert contents[home / ".codex/prompts/pdf.md"].decode() == (
        '---\ndescription: "Read and write PDF files"\n---\n\n# PDF\n\nUse pypdf.\n')
    assert contents[home / ".claude/skills/deploy/SKILL.md"].decode().startswith(
        '---\nname: deploy\ndescription: "Deploy the app"\n---\n\nRun the deploy script.')
    assert [p["diff"]["isNew"] for p in previews] == [False, True, True]
    project_claude = next(a for a in scanner.scan(home, project)["artifacts"]
                          if a["name"] == "CLAUDE.md" and a["scope"] == "project")
    artifact = {"id": "c", "name": "CLAUDE.md", "category": "instruction", "tool": "claude-code", "scope": "project",
                "absPath": project_claude["abs_path"], "metadata": "{}"}
    previews, contents = sync.plan_all([plan(home, project, artifact, "codex")])
    assert contents[project / "AGENTS.md"] == (project / "CLAUDE.md").read_bytes()
    assert previews[0]["hasConflict"] is True  # AGENTS.md exists with other text


def test_scanner_bounds(tmp_path, monkeypatch):
    home, project = fake_setup(tmp_path, monkeypatch)
    result = scanner.scan(home, project)
    counts = {}
    for a in result["artifacts"]:
        counts[a["category"]] = counts.get(a["category"], 0) + 1
    assert counts == EXPECTED_COUNTS and result["errors"] == []
    stopped = scanner.scan(home, project, Limits(max_entries=5))
    assert stopped["errors"] == ["scan stopped at 5 entries"] and len(stopped["artifacts"]) <= 5
    small = scanner.scan(home, project, Limits(max_file_bytes=60))
    assert any("larger than 60 bytes" in e for e in small["errors"])
    assert len(small["artifacts"]) < len(result["artifacts"])


def test_health_score_dimensions():
    empty = health.score([], status="completed", errors=0, scanned_at="2020-01-01T00:00:00.000Z")
    assert empty["dimensions"]["instructions"]["score"] == 5
    assert empty["dimensions"]["maintenance"]["score"] == 45  # old scan 0, few artifacts 5, completed 20, no errors 20
    assert "Missing CLAUDE.md (Claude Code instructions)" in empty["recommendations"]
    assert empty["overall"] == 13  # 12.5 rounds half up, as JavaScript's Math.round
    now = datetime.now(UTC)
    arts = [{"category": "skill", "name": f"s{i}"} for i in range(15)] + [
        {"category": "mcp-server", "name": "a"}, {"category": "instruction", "name": "CLAUDE.md"}]
    day_old = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    scored = health.score(arts, status="completed", errors=2, scanned_at=day_old, now=now)
    assert scored["dimensions"]["capability"]["score"] == 55  # 15 skills 40, one MCP server 15
    assert scored["dimensions"]["instructions"]["score"] == 35  # CLAUDE.md 30, one file 5
    assert scored["dimensions"]["maintenance"]["score"] == 20 + 20 + 20 + 5
    assert "Missing AGENTS.md (Codex instructions)" in scored["recommendations"]


def test_secrets_masked_quoted_escaped_and_short_values_spare_other_words():
    from stagent.engine.environment import secrets

    config = {"env": {"DEBUG": "true", "PASSWORD": 'p@ss"wo\\rd-long'}, "includeCoAuthoredBy": True,
              "mcpServers": {"x": {"headers": {"Authorization": "Token abcdefghij"}}}, "author": "Ada Lovelace"}
    text = json.dumps(config, indent=2)
    found = secrets.secret_values(config)
    assert found == {"true", 'p@ss"wo\\rd-long', "Token abcdefghij"}
    masked = secrets.mask_text(text, found)
    assert 'p@ss' not in masked and "abcdefghij" not in masked and '"DEBUG": "[REDACTED]"' in masked
    assert '"includeCoAuthoredBy": true' in masked and "Ada Lovelace" in masked  # not a secret key
    assert secrets.mask_data(config)["env"] == {"DEBUG": "[REDACTED]", "PASSWORD": "[REDACTED]"}
    assert secrets.mask_data(config)["author"] == "Ada Lovelace"

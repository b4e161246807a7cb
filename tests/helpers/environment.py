"""A fake home (~/.claude, ~/.codex) and project with realistic Claude Code and Codex files,
for the Environment tests. `fake_setup` writes them and points $HOME at the fake home."""

from __future__ import annotations

import json
from pathlib import Path

GITHUB_TOKEN = "ghp_FakeGithubToken0123456789"
LINEAR_KEY = "lin_api_FakeLinearKey987654"
ANTHROPIC_KEY = "sk-ant-fake-anthropic-key-55555"
DB_PASSWORD = "pg-password-hunter22"

CODEX_CONFIG = f"""# Codex configuration, edited by hand
model = "o3"  # the default model
approval_policy = "on-request"

# MCP servers below
[mcp_servers.linear]
command = "npx"  # runs the Linear server
args = ["-y", "linear-mcp"]
env = {{ LINEAR_API_KEY = "{LINEAR_KEY}" }}

# trailing comment that must survive
"""

# category -> how many artifacts the fake setup holds (user + project)
EXPECTED_COUNTS = {"skill": 4, "mcp-server": 4, "permission": 3, "hook": 1, "instruction": 4, "memory": 1,
                   "rule": 1, "output-style": 1, "plugin": 1, "reference": 1}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def fake_setup(root: Path, monkeypatch) -> tuple[Path, Path]:
    home, project = root / "home", root / "project"
    claude, codex = home / ".claude", home / ".codex"
    _write(claude / "settings.json", json.dumps({
        "permissions": {"allow": ["Bash(npm test)", "Read"], "deny": ["Bash(rm -rf *)"]},
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo check"}]}]},
        "env": {"ANTHROPIC_API_KEY": ANTHROPIC_KEY}}, indent=2))
    _write(claude / ".mcp.json", json.dumps({"mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_TOKEN": GITHUB_TOKEN}},
        "fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}, indent=2))
    _write(claude / "skills" / "pdf" / "SKILL.md", "---\nname: pdf\ndescription: Read and write PDF files\n---\n\n"
                                                   "# PDF\n\nUse pypdf.\n")
    _write(claude / "skills" / "security-review" / "SKILL.md",
           "---\nname: security-review\ndescription: Review code for vulnerabilities\n---\n\nCheck OWASP.\n")
    _write(claude / "skills" / "changelog-writer" / "SKILL.md",
           "---\nname: Changelog Writer\ndescription: Writes release notes from commits\n---\n\nBe brief.\n")
    _write(claude / "CLAUDE.md", "# Global instructions\n\nPrefer small commits.\n")
    _write(claude / "output-styles" / "terse.md", "---\nname: terse\n---\nShort answers.\n")
    _write(claude / "rules" / "style.md", "Use type hints.\n")
    _write(claude / "agents" / "reviewer.md", "---\nname: reviewer\n---\nReview diffs.\n")
    _write(claude / "plugins" / "installed_plugins.json",
           json.dumps({"version": 1, "plugins": {"formatter@market": {"version": "1.2.0"}}}))
    _write(claude / "projects" / "-work-project" / "memory" / "MEMORY.md", "- the build uses uv\n")
    _write(codex / "config.toml", CODEX_CONFIG)
    _write(codex / "AGENTS.md", "# Codex agents\n\nRun tests first.\n")
    _write(codex / "prompts" / "deploy.md", "---\ndescription: Deploy the app\n---\n\nRun the deploy script.\n")
    _write(project / "CLAUDE.md", "# Project\n\nThis is the project.\n")
    _write(project / "AGENTS.md", "# Project agents\n")
    _write(project / ".mcp.json", json.dumps({"mcpServers": {"postgres": {
        "command": "pg-mcp", "env": {"PGPASSWORD": DB_PASSWORD}}}}, indent=2))
    _write(project / ".claude" / "settings.json", json.dumps({"permissions": {"allow": ["Edit"]}}))
    monkeypatch.setenv("HOME", str(home))
    return home, project

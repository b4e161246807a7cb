"""Scan the user's Claude Code and Codex CLI setup (`~/.claude`, `~/.codex`) and a project
directory's equivalents into artifacts: category, tool, scope, path, size, sha256, a masked
preview and masked metadata.

Invariants: a scan reads only inside its roots (a symlink whose target leaves its root is
skipped, a symlinked directory is never entered); it stops at `Limits` (entries, bytes, time)
and records why; nothing it returns holds a config's secret value (secrets.py). It is plain
blocking code: callers run it with `asyncio.to_thread`. The home directory is `$HOME`, read
per scan, so tests point it at a fake home.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..profiles.schema import split_skill
from . import secrets

CATEGORIES = ("skill", "plugin", "hook", "mcp-server", "permission", "instruction", "memory", "rule",
              "reference", "output-style")
TOOLS = ("claude-code", "codex", "shared")
SCOPES = ("user", "project")


@dataclass(frozen=True)
class Limits:
    max_entries: int = 5000
    max_file_bytes: int = 1_000_000
    max_total_bytes: int = 50_000_000
    max_seconds: float = 20.0
    preview_chars: int = 2000


class ScanStopped(Exception):
    pass


def home_dir() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def entry_hash(entry: dict) -> str:
    """An MCP server's identity across tools: the fields both tools share, canonical JSON."""
    canonical = {k: entry.get(k) for k in ("command", "args", "url", "env") if entry.get(k) not in (None, [], {})}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def mcp_servers_of(tool: str, data: dict) -> dict:
    table = data.get("mcpServers" if tool == "claude-code" else "mcp_servers")
    return {str(k): v for k, v in table.items() if isinstance(v, dict)} if isinstance(table, dict) else {}


def parse_config(path: Path, text: str) -> dict:
    """A JSON or TOML config as a dict; {} when it does not parse."""
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Scanner:
    home: Path
    project_dir: Path | None
    limits: Limits = field(default_factory=Limits)
    artifacts: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    entries: int = 0
    bytes_read: int = 0

    def run(self) -> dict:
        started = time.monotonic()
        self.deadline = started + self.limits.max_seconds
        try:
            self._claude(self.home / ".claude", self.home, "user")
            self._codex(self.home / ".codex", self.home, "user")
            if self.project_dir is not None:
                project = self.project_dir
                for name in ("CLAUDE.md", ".claude/CLAUDE.md"):
                    self._file(project / name, project, "claude-code", "instruction", "project", name="CLAUDE.md")
                for name in ("AGENTS.md", "codex.md"):
                    self._file(project / name, project, "codex", "instruction", "project")
                self._mcp_file(project / ".mcp.json", project, "claude-code", "project")
                self._claude(project / ".claude", project, "project")
                self._codex(project / ".codex", project, "project")
        except ScanStopped as stop:
            self.errors.append(str(stop))
        return {"artifacts": merge_shared(self.artifacts), "errors": self.errors,
                "durationMs": round((time.monotonic() - started) * 1000)}

    # ---- the two tools' layouts -------------------------------------------------------------

    def _claude(self, base: Path, root: Path, scope: str) -> None:
        tool = "claude-code"
        if scope == "user":
            self._file(base / "CLAUDE.md", root, tool, "instruction", scope)
            self._mcp_file(base / ".mcp.json", root, tool, scope)
            for project in self._children(base / "projects", root, dirs=True):
                for memory in self._children(project / "memory", root, suffix=".md"):
                    self._file(memory, root, tool, "memory", scope, name=f"{project.name}/{memory.name}")
            self._plugins(base / "plugins", root)
        else:
            self._mcp_file(base / ".mcp.json", root, tool, scope)
        for settings in ("settings.json", "settings.local.json"):
            self._settings(base / settings, root, scope)
        for skill in self._children(base / "skills", root, dirs=True):
            self._skill(skill / "SKILL.md", root, tool, scope, skill.name)
        for folder, category in (("hooks", "hook"), ("output-styles", "output-style"), ("rules", "rule"),
                                 ("memory", "memory"), ("agents", "reference"), ("commands", "reference")):
            for path in self._children(base / folder, root, files=True):
                self._file(path, root, tool, category, scope, name=path.name if category == "hook" else path.stem)

    def _codex(self, base: Path, root: Path, scope: str) -> None:
        tool = "codex"
        config = base / "config.toml"
        text = self._read(config, root)
        if text is not None:
            data = parse_config(config, text)
            if text.strip() and not data:
                self.errors.append(f"{self._rel(config, root)}: not valid TOML")
            for name, entry in mcp_servers_of(tool, data).items():
                self._mcp_entry(config, root, tool, scope, name, entry)
            policy = {k: data[k] for k in ("approval_policy", "sandbox_mode", "sandbox_workspace_write")
                      if k in data}
            if policy:
                self._add(config, root, tool, "permission", scope, "config.toml", text, policy)
        if scope == "user":
            self._file(base / "AGENTS.md", root, tool, "instruction", scope)
        for prompt in self._children(base / "prompts", root, suffix=".md"):
            self._skill(prompt, root, tool, scope, prompt.stem, kind="prompt")
        for skill in self._children(base / "skills", root, dirs=True):
            self._skill(skill / "SKILL.md", root, tool, scope, skill.name)
        for path in self._children(base / "rules", root, files=True):
            self._file(path, root, tool, "rule", scope, name=path.stem)
        for path in self._children(base / "memories", root, suffix=".md"):
            self._file(path, root, tool, "memory", scope, name=path.stem)

    def _settings(self, path: Path, root: Path, scope: str) -> None:
        text = self._read(path, root)
        if text is None:
            return
        data = parse_config(path, text)
        if text.strip() and not data:
            self.errors.append(f"{self._rel(path, root)}: not valid JSON")
        permissions = data.get("permissions")
        if isinstance(permissions, dict):
            self._add(path, root, "claude-code", "permission", scope, path.name, text, permissions)
        hooks = data.get("hooks")
        if isinstance(hooks, dict):
            for event, matchers in hooks.items():
                self._add(path, root, "claude-code", "hook", scope, str(event),
                          json.dumps(matchers, indent=2), {"event": event, "matchers": matchers},
                          content_hash=hashlib.sha256(json.dumps(matchers, sort_keys=True).encode()).hexdigest())

    def _mcp_file(self, path: Path, root: Path, tool: str, scope: str) -> None:
        text = self._read(path, root)
        if text is None:
            return
        data = parse_config(path, text)
        if text.strip() and not data:
            self.errors.append(f"{self._rel(path, root)}: not valid JSON")
        for name, entry in mcp_servers_of(tool, data).items():
            self._mcp_entry(path, root, tool, scope, name, entry)

    def _mcp_entry(self, path: Path, root: Path, tool: str, scope: str, name: str, entry: dict) -> None:
        self._add(path, root, tool, "mcp-server", scope, name, json.dumps(entry, indent=2), entry,
                  content_hash=entry_hash(entry))

    def _plugins(self, base: Path, root: Path) -> None:
        manifest = base / "installed_plugins.json"
        text = self._read(manifest, root)
        if text is not None:
            plugins = parse_config(manifest, text).get("plugins")
            if isinstance(plugins, dict):
                for name, info in plugins.items():
                    entry = {"plugin": name, "install": info}
                    self._add(manifest, root, "claude-code", "plugin", "user", str(name),
                              json.dumps(info, indent=2), entry,
                              content_hash=hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest())
            return
        for folder in self._children(base, root, dirs=True):
            self._file(folder / ".claude-plugin" / "plugin.json", root, "claude-code", "plugin", "user",
                       name=folder.name)

    def _skill(self, path: Path, root: Path, tool: str, scope: str, name: str, kind: str = "skill") -> None:
        text = self._read(path, root)
        if text is not None:
            meta, _ = split_skill(text)
            info = {k: str(meta[k]) for k in ("name", "description") if isinstance(meta.get(k), (str, int, float))}
            self._add(path, root, tool, "skill", scope, name, text, {"kind": kind, **info})

    def _file(self, path: Path, root: Path, tool: str, category: str, scope: str, name: str | None = None) -> None:
        text = self._read(path, root)
        if text is not None:
            self._add(path, root, tool, category, scope, name or path.name, text, {})

    # ---- reading inside the bounds --------------------------------------------------------

    def _add(self, path: Path, root: Path, tool: str, category: str, scope: str, name: str, text: str,
             metadata: dict, content_hash: str | None = None) -> None:
        self._tick()
        stat = path.stat()
        found = secrets.secret_values(parse_config(path, text)) if path.suffix in (".json", ".toml") else set()
        found |= secrets.secret_values(metadata)
        self.artifacts.append({
            "tool": tool, "category": category, "scope": scope, "name": name,
            "rel_path": self._rel(path, root), "abs_path": str(path),
            "content_hash": content_hash or hashlib.sha256(text.encode()).hexdigest(),
            "preview": secrets.mask_text(text[: self.limits.preview_chars], found),
            "metadata": secrets.mask_data(metadata), "size_bytes": stat.st_size,
            "modified_at": int(stat.st_mtime * 1000)})

    def _tick(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ScanStopped(f"scan stopped at {self.limits.max_entries} entries")
        if time.monotonic() > self.deadline:
            raise ScanStopped(f"scan stopped after {self.limits.max_seconds:g} s")

    def _inside(self, path: Path, root: Path) -> bool:
        try:
            return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
        except OSError:
            return False

    def _read(self, path: Path, root: Path) -> str | None:
        """The file's text, or None when it is absent, outside the root, too big or not text."""
        try:
            if not path.is_file():
                return None
            if not self._inside(path, root):
                self.errors.append(f"{self._rel(path, root)}: symlink out of its root, skipped")
                return None
            size = path.stat().st_size
            if size > self.limits.max_file_bytes:
                self.errors.append(f"{self._rel(path, root)}: larger than {self.limits.max_file_bytes} bytes, skipped")
                return None
            if self.bytes_read + size > self.limits.max_total_bytes:
                raise ScanStopped(f"scan stopped after reading {self.limits.max_total_bytes} bytes")
            self.bytes_read += size
            return path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            self.errors.append(f"{self._rel(path, root)}: not UTF-8 text, skipped")
        except OSError as exc:
            self.errors.append(f"{self._rel(path, root)}: {exc.strerror or exc}")
        return None

    def _children(self, folder: Path, root: Path, *, dirs: bool = False, files: bool = False,
                  suffix: str | None = None) -> list[Path]:
        """Sorted entries of a folder: real directories only (never a symlinked one), files
        (a symlinked file only when it stays inside the root)."""
        try:
            if folder.is_symlink() or not folder.is_dir() or not self._inside(folder, root):
                return []
            with os.scandir(folder) as scan:
                items = sorted(scan, key=lambda e: e.name)
        except OSError:
            return []
        out = []
        for item in items:
            self._tick()
            if item.name.startswith("."):
                continue
            path = Path(item.path)
            if dirs and item.is_dir(follow_symlinks=False):
                out.append(path)
            elif (files or suffix) and item.is_file(follow_symlinks=True) and (suffix is None or item.name.endswith(suffix)):
                out.append(path)
        return out

    @staticmethod
    def _rel(path: Path, root: Path) -> str:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)


def merge_shared(artifacts: list[dict]) -> list[dict]:
    """Artifacts with the same category, name and scope in both tools become one `shared`
    artifact; `metadata.sources` keeps each tool's path and hash, `metadata.inSync` says
    whether their content agrees."""
    keyed: dict[tuple, list[dict]] = {}
    for artifact in artifacts:
        keyed.setdefault((artifact["category"], artifact["name"], artifact["scope"]), []).append(artifact)
    out = []
    for group in keyed.values():
        tools = {a["tool"] for a in group}
        if tools != {"claude-code", "codex"} or len(group) != 2:
            out.extend(group)
            continue
        claude = next(a for a in group if a["tool"] == "claude-code")
        codex = next(a for a in group if a["tool"] == "codex")
        sources = {a["tool"]: {"relPath": a["rel_path"], "absPath": a["abs_path"], "contentHash": a["content_hash"]}
                   for a in (claude, codex)}
        metadata = {**codex["metadata"], **claude["metadata"], "sources": sources,
                    "inSync": claude["content_hash"] == codex["content_hash"]}
        out.append({**claude, "tool": "shared", "metadata": metadata})
    return out


def scan(home: Path, project_dir: Path | None, limits: Limits | None = None) -> dict:
    return Scanner(home, project_dir, limits or Limits()).run()

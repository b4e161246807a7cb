"""Project folders under a parent directory, found by markers, depth 1–3.

Bounded: at most MAX_DIRS folders looked at and TIME_BUDGET_S seconds; past either it stops
and says so in `errors`. Symbolic links are followed only when they resolve inside the parent
(each real folder visited once); heavy or hidden folders (node_modules, .venv, …) are not
entered. Blocking; run it in a worker thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ...db.rows import to_iso
from . import git

MAX_DIRS = 20000
MAX_PROJECTS = 500
TIME_BUDGET_S = 5.0
SKIPPED = frozenset({"node_modules", "__pycache__", "venv", "dist", "build", "target", "vendor"})
# A marker kind and the names that show it; any other marker is a file or folder name itself.
KINDS = {"claude": ("CLAUDE.md", ".claude"), "codex": ("AGENTS.md", ".codex"), "git": (".git",)}
DEFAULT_MARKERS = ("claude", "codex", "git", "package.json", "pyproject.toml", "Cargo.toml", "go.mod")
MANIFESTS = ("package.json", "pyproject.toml", "Cargo.toml", "go.mod", "pom.xml", "Gemfile", "requirements.txt")


@dataclass
class Discovery:
    root: Path
    depth: int
    markers: tuple[str, ...]
    projects: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    looked_at: int = 0


def discover(parent: Path, depth: int, markers: tuple[str, ...] | None, imported: set[str]) -> dict:
    started = time.monotonic()
    root = parent.resolve()
    run = Discovery(root, depth, tuple(markers or DEFAULT_MARKERS))
    deadline = started + TIME_BUDGET_S
    level = [root]
    run.seen.add(str(root))
    for current_depth in range(1, depth + 1):
        next_level = []
        for folder in level:
            for child in _subfolders(run, folder):
                if time.monotonic() > deadline:
                    run.errors.append(f"Stopped after {TIME_BUDGET_S:.0f} s; narrow the search")
                    return _result(run, started, imported)
                if run.looked_at >= MAX_DIRS or len(run.projects) >= MAX_PROJECTS:
                    run.errors.append(f"Stopped after {run.looked_at} folders and {len(run.projects)} projects")
                    return _result(run, started, imported)
                found = _markers_of(child, run.markers)
                if found:
                    run.projects.append(_describe(child, found))
                elif current_depth < depth:
                    next_level.append(child)
        level = next_level
    return _result(run, started, imported)


def _subfolders(run: Discovery, folder: Path):
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        run.errors.append(f"{folder}: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIPPED:
            continue
        try:
            if entry.is_symlink():
                real = Path(os.path.realpath(entry.path))
                if not (real == run.root or run.root in real.parents) or not real.is_dir():
                    continue  # a link out of the parent (or to a file) is never followed
                path = real
            elif entry.is_dir(follow_symlinks=False):
                path = Path(entry.path)
            else:
                continue
        except OSError:
            continue
        key = str(path)
        if key in run.seen:
            continue
        run.seen.add(key)
        run.looked_at += 1
        yield path


def _markers_of(folder: Path, markers: tuple[str, ...]) -> list[str]:
    found = []
    for marker in markers:
        names = KINDS.get(marker, (marker,))
        if any(os.path.lexists(folder / name) for name in names if "/" not in name and name not in ("", ".", "..")):
            found.append(marker)
    return found


def _describe(folder: Path, markers: list[str]) -> dict:
    files = dirs = 0
    latest = 0.0
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= 2000:
                    break
                try:
                    stat = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                latest = max(latest, stat.st_mtime)
                if entry.is_dir(follow_symlinks=False):
                    dirs += 1
                else:
                    files += 1
    except OSError:
        pass
    manifests = [m for m in MANIFESTS if (folder / m).is_file()]
    has_instructions = any((folder / n).is_file() for n in ("CLAUDE.md", "AGENTS.md"))
    return {
        "path": str(folder), "folderName": folder.name, "name": folder.name, "markers": markers,
        # counts come from the environment scanner once it is wired (0 until then)
        "artifactHints": {"skillCount": 0, "mcpServerCount": 0, "hasInstructions": has_instructions,
                          "hasMemory": False},
        "totalArtifactEstimate": 0,
        "gitBranch": git.branch(folder),
        "lastModified": to_iso(datetime.fromtimestamp(latest, UTC)) if latest else None,
        "contents": {"files": files, "folders": dirs, "manifests": manifests},
    }


def _result(run: Discovery, started: float, imported: set[str]) -> dict:
    for project in run.projects:
        project["alreadyImported"] = project["path"] in imported
    return {"projects": run.projects, "searchPath": str(run.root), "depth": run.depth,
            "durationMs": round((time.monotonic() - started) * 1000), "errors": run.errors}

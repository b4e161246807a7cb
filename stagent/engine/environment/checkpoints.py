"""Checkpoints: a git tag in the project directory (when it is a repository with a clean
working tree) plus byte copies of the config files the checkpoint names, kept under
`<data dir>/environment/checkpoints/<id>/`; rollback puts every copy back and reports per file.

Invariants: git runs as a subprocess without a shell; a checkpoint is always made — when no
tag can be taken its record says why (`gitNote`); a rollback restores each file byte for byte
(a file that did not exist at checkpoint time is removed) and never rewrites git history: the
project's tracked files are checked out from the tag (`git checkout <tag> -- .`), and only when
the working tree is clean, so no uncommitted work is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

from ...db import Database
from ...db.rows import new_id
from ...errors import ApiError, Invalid
from ...store import environment as store
from . import secrets

DEFAULT_GLOBAL_PATHS = (".claude/settings.json", ".claude/settings.local.json", ".claude/.mcp.json",
                        ".codex/config.toml")
GIT_TIMEOUT = 30
DIFF_LIMIT = 100_000


async def git(cwd: Path, *args: str) -> tuple[int, str, str]:
    """(returncode, stdout, stderr) of `git <args>` in cwd; 127 when git is not installed."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = await asyncio.create_subprocess_exec("git", *args, cwd=str(cwd), env=env, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        return 127, "", "git is not installed"
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, "", f"git {args[0]} timed out"
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def global_paths(home: Path, given: list[str] | None) -> list[Path]:
    """The files a checkpoint copies: the defaults, or the given ones, each inside ~/.claude or
    ~/.codex (a path outside them, or a folder, is a 400)."""
    if not given:
        return [home / p for p in DEFAULT_GLOBAL_PATHS]
    roots = [Path(os.path.realpath(home / ".claude")), Path(os.path.realpath(home / ".codex"))]
    out = []
    for raw in given:
        path = Path(raw[2:] if raw.startswith("~/") else raw)
        path = path if path.is_absolute() else home / path
        if "\0" in raw:
            raise Invalid(f"globalPaths: {raw!r} is not a path")
        real = Path(os.path.realpath(path))
        if not any(real.is_relative_to(root) and real != root for root in roots):
            raise Invalid(f"globalPaths: {raw} is not inside ~/.claude or ~/.codex")
        if real.is_dir():
            raise Invalid(f"globalPaths: {raw} is a folder, not a file")
        out.append(path)
    return out


async def git_tag(project_dir: Path | None, checkpoint_id: str) -> dict:
    """{git_tag, git_commit_sha} when a tag was taken, else {git_note: why not}."""
    if project_dir is None:
        return {"git_note": "no project directory"}
    if not project_dir.is_dir():
        return {"git_note": "the project directory does not exist"}
    rc, _, err = await git(project_dir, "rev-parse", "--is-inside-work-tree")
    if rc == 127:
        return {"git_note": "git is not installed"}
    if rc != 0:
        return {"git_note": "the project directory is not a git repository"}
    rc, sha, _ = await git(project_dir, "rev-parse", "HEAD")
    if rc != 0:
        return {"git_note": "the repository has no commits yet"}
    rc, status, err = await git(project_dir, "status", "--porcelain")
    if rc != 0:
        return {"git_note": f"git status failed: {err.strip()[:200]}"}
    if status.strip():
        return {"git_note": "the working tree has uncommitted changes; no tag taken"}
    tag = f"stagent-checkpoint-{checkpoint_id[:8]}"
    rc, _, err = await git(project_dir, "tag", tag, sha.strip())
    if rc != 0:
        return {"git_note": f"git tag failed: {err.strip()[:200]}"}
    return {"git_tag": tag, "git_commit_sha": sha.strip()}


def _copy_files(folder: Path, paths: list[Path]) -> int:
    """Copy each path into folder/files/<n>, recording absent ones; returns how many were copied."""
    (folder / "files").mkdir(parents=True, exist_ok=True)
    manifest, copied = [], 0
    for index, path in enumerate(dict.fromkeys(paths)):
        entry = {"path": str(path), "copy": None, "sha256": None}
        if path.is_file():
            data = path.read_bytes()
            (folder / "files" / str(index)).write_bytes(data)
            entry.update(copy=str(index), sha256=hashlib.sha256(data).hexdigest(), mode=path.stat().st_mode & 0o777)
            copied += 1
        manifest.append(entry)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return copied


async def create(db: Database, data_dir: Path, *, label: str, checkpoint_type: str, paths: list[Path],
                 project_dir: Path | None, project_id: str | None = None, ops: list[dict] = ()) -> dict:
    checkpoint_id = new_id()
    folder = data_dir / "environment" / "checkpoints" / checkpoint_id
    tag = await git_tag(project_dir, checkpoint_id)
    copied = await asyncio.to_thread(_copy_files, folder, paths)
    return await store.insert_checkpoint(db, {
        "id": checkpoint_id, "project_id": project_id, "label": label, "checkpoint_type": checkpoint_type,
        "project_dir": str(project_dir) if project_dir else None, "backup_path": str(folder),
        "files_count": copied, **tag}, ops)


def _restore(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return {"restored": 0, "errors": [f"backup unreadable: {exc}"], "files": []}
    files, errors = [], []
    for entry in manifest:
        path = Path(entry["path"])
        try:
            if entry["copy"] is None:
                if path.exists():
                    path.unlink()
                    files.append({"path": str(path), "action": "removed"})
                else:
                    files.append({"path": str(path), "action": "unchanged"})
                continue
            data = (folder / "files" / entry["copy"]).read_bytes()
            if path.is_file() and path.read_bytes() == data:
                files.append({"path": str(path), "action": "unchanged"})
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.stagent-restore")
            tmp.write_bytes(data)
            os.chmod(tmp, entry.get("mode", 0o644))
            os.replace(tmp, path)
            files.append({"path": str(path), "action": "restored"})
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
            files.append({"path": str(path), "action": "failed", "error": exc.strerror or str(exc)})
    return {"restored": sum(f["action"] in ("restored", "removed") for f in files), "errors": errors, "files": files}


async def rollback(db: Database, checkpoint: dict) -> dict:
    """Restore the copies and the project's tracked files; 400 when the checkpoint is not active,
    500 (with the per-file results) when git could not restore the project."""
    if checkpoint["status"] != "active":
        raise Invalid(f"Checkpoint is not active (status: {checkpoint['status']})")
    results: dict = {}
    if checkpoint.get("backupPath"):
        results["backup"] = await asyncio.to_thread(_restore, Path(checkpoint["backupPath"]))
    if checkpoint.get("gitTag") and checkpoint.get("projectDir"):
        results["git"] = await _git_restore(Path(checkpoint["projectDir"]), checkpoint["gitTag"])
        if not results["git"]["success"]:
            raise ApiError(f"Git rollback failed: {results['git']['error']}", status=500, code="GIT_FAILED",
                           extra={"results": results})
    await store.mark_rolled_back(db, checkpoint["id"])
    return results


async def _git_restore(project_dir: Path, tag: str) -> dict:
    rc, status, err = await git(project_dir, "status", "--porcelain", "--untracked-files=no")
    if rc != 0:
        return {"success": False, "error": (err.strip() or "not a git repository")[:300]}
    if status.strip():
        return {"success": False, "error": "the working tree has uncommitted changes; commit or stash them first"}
    rc, _, err = await git(project_dir, "checkout", tag, "--", ".")
    return {"success": True} if rc == 0 else {"success": False, "error": err.strip()[:300]}


async def diff(checkpoint: dict) -> str | None:
    """What changed in the project since the checkpoint's tag (secrets masked), or None."""
    if not (checkpoint.get("gitTag") and checkpoint.get("projectDir")):
        return None
    rc, out, _ = await git(Path(checkpoint["projectDir"]), "diff", checkpoint["gitTag"])
    return secrets.mask_text(out[:DIFF_LIMIT]) if rc == 0 else None

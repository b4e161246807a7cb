"""GET /api/workspace/context: where the daemon was launched (the code's and the docs' fields)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from . import git

ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64", "i386": "ia32", "i686": "ia32"}


def context() -> dict:
    cwd = Path(os.getcwd())
    home = Path.home()
    repo = git.find_repo_root(cwd)
    _, is_worktree = git.git_dir(repo) if repo else (None, False)
    parent = cwd.parent
    try:
        parent_path = "~/" + str(parent.relative_to(home)) if parent != home else "~"
    except ValueError:
        parent_path = str(parent)
    return {
        "cwd": str(cwd), "folderName": cwd.name, "parentPath": parent_path.rstrip("/") if parent_path != "~/" else "~",
        "gitBranch": git.branch(repo) if repo else None, "isWorktree": is_worktree,
        "platform": sys.platform, "arch": ARCH.get(platform.machine().lower(), platform.machine().lower()),
        "nodeVersion": None,  # not a Node process; pythonVersion says what runs it
        "pythonVersion": platform.python_version(), "homedir": str(home),
    }

"""A folder's git branch read from `.git/HEAD` (no git process): `ref: refs/heads/<branch>`, or
a short commit id when the head is detached. `.git` may be a file (`gitdir: …`): a worktree or
a submodule."""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 512


def git_dir(folder: Path) -> tuple[Path | None, bool]:
    """(the git directory of `folder`, whether `.git` is a pointer file, i.e. a worktree)."""
    dot_git = folder / ".git"
    try:
        if dot_git.is_symlink():
            return None, False
        if dot_git.is_dir():
            return dot_git, False
        if dot_git.is_file():
            text = dot_git.read_text(errors="replace")[:HEAD_BYTES].strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:"):].strip())
                return (target if target.is_absolute() else folder / target), True
    except OSError:
        pass
    return None, False


def branch(folder: Path) -> str | None:
    directory, _ = git_dir(folder)
    if directory is None:
        return None
    try:
        with open(directory / "HEAD", errors="replace") as f:
            head = f.read(HEAD_BYTES).strip()
    except OSError:
        return None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        return ref.removeprefix("refs/heads/") or None
    return head[:7] or None


def find_repo_root(start: Path, max_up: int = 40) -> Path | None:
    """The nearest folder at or above `start` holding `.git`."""
    folder = start
    for _ in range(max_up):
        if (folder / ".git").exists():
            return folder
        if folder.parent == folder:
            return None
        folder = folder.parent
    return None

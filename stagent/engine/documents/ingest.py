"""Files into `<data dir>/uploads/<document id>.<ext>`: multipart uploads streamed to disk,
local paths copied under the catalog's allow and deny rules, agent output written.

Nothing here holds a whole file in memory, and every disk operation runs off the event loop.
A file is written as `<name>.part` and renamed only once complete, so an upload cut off midway
leaves nothing behind once `abort` ran (and orphan cleanup would catch a crash's leftover).
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path

from ...db.rows import new_id
from ...errors import Forbidden, Invalid
from ...store import documents as store

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
TOO_LARGE = "File too large (max 50MB)"
FLUSH_BYTES = 1024 * 1024

MIME_BY_EXTENSION = {
    ".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain", ".json": "application/json",
    ".csv": "text/csv", ".tsv": "text/tab-separated-values", ".html": "text/html", ".htm": "text/html",
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml", ".xml": "application/xml",
    ".yaml": "application/x-yaml", ".yml": "application/x-yaml", ".js": "text/javascript",
    ".ts": "application/typescript", ".py": "text/x-python", ".css": "text/css", ".log": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OCTET = "application/octet-stream"

# Path ingest: only under $HOME or /tmp, and never in these (the catalog's list, plus other
# places that hold credentials). The daemon's own data dir (its database holds provider keys)
# is refused by the caller.
DENIED_ROOTS = ("/etc", "/var", "/proc", "/sys", "/dev", "/root", "/boot", "/run")
DENIED_IN_HOME = (".ssh", ".gnupg", ".aws", ".config", ".env", ".kube", ".docker", ".netrc", ".npmrc",
                  ".pypirc", ".git-credentials", ".password-store", ".local/share/keyrings", ".azure", ".gcloud")


def uploads_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def mime_for(name: str, given: str | None = None) -> str:
    """The MIME type by extension; else the one the client gave (a plain type/subtype); else octet-stream."""
    known = MIME_BY_EXTENSION.get(Path(name).suffix.lower())
    if known:
        return known
    given = (given or "").split(";")[0].strip().lower()
    return given if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*", given) else OCTET


def stored_name(document_id: str, original_name: str) -> str:
    """`<id>.<ext>`: the extension only when it is short and plain (never a path)."""
    ext = Path(original_name).suffix.lower()
    return document_id + (ext if re.fullmatch(r"\.[a-z0-9]{1,10}", ext) else "")


def clean_original_name(name: str) -> str:
    """The name the user's file had, without any directory part or control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "upload"


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_ingest_path(raw: str, data_dir: Path) -> Path:
    """The file a `POST /api/documents` may copy, resolved (symlinks followed), or a 403
    (outside $HOME and /tmp, or in a denied place) / 400 (missing, not a regular file)."""
    if not raw or "\x00" in raw:
        raise Invalid("file_path is required")
    home = Path(os.path.realpath(os.environ.get("HOME") or "/nonexistent"))
    path = Path(os.path.realpath(os.path.expanduser(raw)))
    roots = [home, Path(os.path.realpath("/tmp"))]
    denied = [Path(d) for d in DENIED_ROOTS] + [home / d for d in DENIED_IN_HOME]
    denied.append(Path(os.path.realpath(data_dir)))
    if not any(_within(path, root) for root in roots) or any(_within(path, d) for d in denied):
        raise Forbidden("Access denied: path is outside allowed directories")
    if not path.exists():
        raise Invalid(f"File not found: {raw}")
    if not path.is_file():
        raise Invalid(f"Not a file: {raw}")
    return path


def copy_capped(source: Path, target: Path, limit: int = MAX_UPLOAD_BYTES) -> int:
    """Copy through a `.part` file (in a worker thread); refuse past `limit`. Returns the size."""
    partial = target.with_name(target.name + ".part")
    size = 0
    try:
        # O_NOFOLLOW: a path swapped for a symlink after check_ingest_path is not followed
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise Invalid(f"Cannot read the file: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Invalid("Not a file")
        with open(fd, "rb") as src, open(partial, "xb") as dst:
            os.fchmod(dst.fileno(), 0o600)
            while chunk := src.read(FLUSH_BYTES):
                size += len(chunk)
                if size > limit:
                    raise Invalid(TOO_LARGE)
                dst.write(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size


class UploadFile:
    """One file being received: `feed` (sync, from a parser callback) buffers up to about
    FLUSH_BYTES and refuses past `limit`; `flush` writes the buffer in a worker thread (the
    `.part` file is created at the first one); `finish` renames it into place; `abort` removes it."""

    def __init__(self, target: Path, limit: int = MAX_UPLOAD_BYTES):
        self.target = target
        self.partial = target.with_name(target.name + ".part")
        self.limit = limit
        self.size = 0
        self._buffer = bytearray()
        self._file = None

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise Invalid(TOO_LARGE)
        self._buffer += data

    @property
    def should_flush(self) -> bool:
        return len(self._buffer) >= FLUSH_BYTES

    def _write(self, data: bytes) -> None:
        if self._file is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.partial, "xb")
            os.fchmod(self._file.fileno(), 0o600)
        self._file.write(data)

    async def flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        await asyncio.to_thread(self._write, data)

    async def finish(self) -> int:
        await self.flush()

        def run():
            self._file.close()
            os.replace(self.partial, self.target)
        await asyncio.to_thread(run)
        return self.size

    async def abort(self) -> None:
        self._buffer = bytearray()

        def run():
            if self._file is not None:
                self._file.close()
            self.partial.unlink(missing_ok=True)
            self.target.unlink(missing_ok=True)
        await asyncio.to_thread(run)


async def ingest_path(db, data_dir: Path, raw_path: str, *, task_id=None, project_id=None,
                      direction: str = "output", category: str | None = None) -> dict:
    """Copy a local file into the uploads folder and create its document row (status uploaded)."""
    source = await asyncio.to_thread(check_ingest_path, raw_path, data_dir)
    document_id = new_id()
    original = clean_original_name(source.name)
    target = uploads_dir(data_dir) / stored_name(document_id, original)
    await asyncio.to_thread(uploads_dir(data_dir).mkdir, parents=True, exist_ok=True)
    size = await asyncio.to_thread(copy_capped, source, target)
    try:
        return await store.create(db, {
            "id": document_id, "filename": target.name, "original_name": original, "mime_type": mime_for(original),
            "size": size, "storage_path": str(target), "task_id": task_id, "project_id": project_id,
            "direction": direction, "category": category, "source": "path"})
    except BaseException:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        raise


async def save_output(db, data_dir: Path, name: str, content: bytes | str, *, project_id: str | None = None,
                      task_id: str | None = None, mime_type: str | None = None, source: str = "agent") -> dict:
    """Keep an agent's result as an output document (direction `output`), versioned by name within
    its project: a second `report.md` in the same project becomes version 2. Returns the plain
    document row (status `uploaded`); start its extraction with `Documents.process(id)`."""
    data = content.encode() if isinstance(content, str) else content
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(TOO_LARGE)
    document_id = new_id()
    original = clean_original_name(name)
    folder = uploads_dir(data_dir)
    target = folder / stored_name(document_id, original)

    def write():
        folder.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
    await asyncio.to_thread(write)
    try:
        return await store.create(db, {
            "id": document_id, "filename": target.name, "original_name": original,
            "mime_type": mime_type or mime_for(original, "text/plain"), "size": len(data),
            "storage_path": str(target), "task_id": task_id, "project_id": project_id, "direction": "output",
            "source": source})
    except BaseException:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        raise


def remove_files(*paths: str | None) -> None:
    """Delete a document's stored file and thumbnail (in a worker thread); missing is fine."""
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)

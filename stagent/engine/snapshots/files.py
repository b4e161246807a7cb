"""The blocking halves of a snapshot, run in worker threads: copy the live database with SQLite's
online backup, archive the data files, verify both, hash them.

Nothing here touches the event loop or the daemon's own connections: the backup reads through a
connection of its own, which in WAL mode never blocks the writer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ...store.snapshots import SnapshotCorrupt, backup_database, check_database

__all__ = ["SnapshotCorrupt", "backup_database", "check_database"]

DB_NAME = "stagent.db"
ARCHIVE_NAME = "files.tar.gz"
SNAPSHOT_DB_NAME = "snapshot.db"
SNAPSHOTS_DIR = "snapshots"
RESTORE_DIR = ".restore"
# Top-level entries of the data dir that are not user data: the database itself (copied by the
# backup), the daemon's lock and key file, the snapshots and a restore in progress.
NOT_DATA = frozenset({DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal",
                      "stagent.lock", "api-key", SNAPSHOTS_DIR, RESTORE_DIR})


@dataclass
class ArchiveInfo:
    file_count: int
    size_bytes: int
    sha256: str


def data_entries(data_dir: Path) -> list[str]:
    """The top-level names of the data dir a snapshot holds (uploads/, blueprints/, …)."""
    try:
        names = os.listdir(data_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n not in NOT_DATA and not n.startswith(".tmp-"))


SPACE_MARGIN = 64 * 1024 * 1024


def ensure_space(folder: Path, needed: int) -> None:
    """Refuse to start a copy that would fill the disk (the data dir lives on it too)."""
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN:
        raise OSError(f"not enough disk space: {needed // 2**20:,} MB needed, {free // 2**20:,} MB free")


def database_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def archive_data_files(data_dir: Path, dest: Path) -> ArchiveInfo:
    """files.tar.gz of every data entry. Symbolic links are stored as links, never followed."""
    count = size = 0
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        for name in data_entries(data_dir):
            for path in _walk(data_dir / name):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(data_dir)))
                if info is None:  # a socket or such: not data
                    continue
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                    count, size = count + 1, size + info.size
                else:
                    tar.addfile(info)
    return ArchiveInfo(count, size, sha256_of(dest))


def _walk(path: Path):
    yield path
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.iterdir()):
            yield from _walk(child)


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack into dest; the `data` filter refuses absolute paths, `..` and links out of dest."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SnapshotCorrupt(f"archive unreadable: {exc}") from None


def verify_snapshot(folder: Path, manifest: dict) -> None:
    """The files match the hashes recorded when the snapshot was made, and the database copy
    passes integrity_check. Raises SnapshotCorrupt."""
    db, archive = folder / SNAPSHOT_DB_NAME, folder / ARCHIVE_NAME
    for path, key in ((db, "dbSha256"), (archive, "filesSha256")):
        if not path.is_file():
            raise SnapshotCorrupt(f"{path.name} is missing")
        if manifest.get(key) and sha256_of(path) != manifest[key]:
            raise SnapshotCorrupt(f"{path.name} does not match its recorded checksum")
    check_database(db)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The snapshot records: one `manifest.json` beside each snapshot's files, under
`<data dir>/snapshots/<id>/`. The records live with the files, not in the database, so a restore
(which replaces the database) and a data clear keep every snapshot listed. Blocking; called in
worker threads."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .files import SNAPSHOTS_DIR

MANIFEST = "manifest.json"
PUBLIC = ("id", "label", "type", "status", "filePath", "sizeBytes", "dbSizeBytes", "filesSizeBytes",
          "fileCount", "error", "createdAt")


class Catalog:
    def __init__(self, data_dir: Path):
        self.root = data_dir / SNAPSHOTS_DIR

    def folder(self, snapshot_id: str) -> Path:
        return self.root / snapshot_id

    def save(self, record: dict) -> None:
        """Atomically: a reader sees the old manifest or the new one, never half of one."""
        folder = self.folder(record["id"])
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{MANIFEST}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)

    def get(self, snapshot_id: str) -> dict | None:
        if not _safe_id(snapshot_id):
            return None
        try:
            with open(self.folder(snapshot_id) / MANIFEST) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("id") == snapshot_id else None

    def all(self) -> list[dict]:
        """Newest first."""
        try:
            names = os.listdir(self.root)
        except OSError:  # none yet, or not a folder
            return []
        records = [r for r in (self.get(n) for n in names) if r is not None]
        return sorted(records, key=lambda r: (r.get("createdAt") or "", r["id"]), reverse=True)

    def delete(self, snapshot_id: str) -> bool:
        if not _safe_id(snapshot_id) or not self.folder(snapshot_id).is_dir():
            return False
        # Renamed away first: a crash mid-delete leaves no half snapshot under its own name.
        doomed = self.root / f".deleting-{snapshot_id}"
        os.replace(self.folder(snapshot_id), doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return True

    def fail_unfinished(self) -> None:
        """Snapshots a stop or crash cut off are failed (called at start, before any new one)."""
        for record in self.all():
            if record.get("status") == "in_progress":
                self.save({**record, "status": "failed", "error": "interrupted by a daemon stop"})
        for name in os.listdir(self.root) if self.root.is_dir() else ():
            if name.startswith(".deleting-"):
                shutil.rmtree(self.root / name, ignore_errors=True)


def _safe_id(snapshot_id: str) -> bool:
    return bool(snapshot_id) and snapshot_id not in (".", "..") and "/" not in snapshot_id \
        and "\\" not in snapshot_id and not snapshot_id.startswith(".") and len(snapshot_id) <= 100


def public(record: dict) -> dict:
    """The API shape: the catalog's fields plus the verification this daemon adds."""
    out = {key: record.get(key) for key in PUBLIC}
    out["verified"] = bool(record.get("verified"))
    out["verification"] = {k: record.get(k) for k in ("integrityCheck", "dbSha256", "filesSha256", "verifiedAt")}
    return out

"""Snapshots: create (verified), list, delete, restore in place. One operation at a time.

A restore runs: checks (complete, verified, no task running) → a pre-restore snapshot → staging
(the snapshot's database copied and migrated, its files unpacked, under `.restore/new`) → the
runtime suspended (scheduler, engines, every connection closed) → the journal's swap → the
database reopened and the runtime resumed (keys, caches, log sequence, timers, recovery).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...db import Database
from ...db.migrations import SchemaTooNew
from ...db.rows import new_id, to_iso
from ...errors import ApiError, Conflict, NotFound
from ...store import snapshots as store
from ..supervisor import Supervisor
from . import files
from .catalog import Catalog, public
from .journal import Journal

log = logging.getLogger("stagent.snapshots")
BUSY = "Another snapshot operation is already in progress"


@dataclass
class RuntimeControl:
    """How a restore stops everything that holds the database, and starts it again."""

    suspend: Callable[[], Awaitable[None]]
    resume: Callable[[], Awaitable[None]]
    reload: Callable[[], Awaitable[None]]  # engines rebuilt over the same open database


class Snapshots:
    def __init__(self, db: Database, data_dir: Path, runtime: RuntimeControl,
                 now: Callable[[], datetime] | None = None):
        self.db = db
        self.data_dir = data_dir
        self.runtime = runtime
        self.now = now or (lambda: datetime.now(UTC))
        self.catalog = Catalog(data_dir)
        self.journal = Journal(data_dir)
        self.supervisor = Supervisor()  # outlives the engines a restore rebuilds
        self._lock = asyncio.Lock()
        self.auto_settings_changed = False  # set by a settings update: the next scheduler pass re-reads them

    async def start(self) -> None:
        await asyncio.to_thread(self.catalog.fail_unfinished)

    async def stop(self) -> None:
        await self.supervisor.shutdown()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    # ---- reads ------------------------------------------------------------------------------

    async def list(self) -> dict:
        records = [public(r) for r in await asyncio.to_thread(self.catalog.all)]
        return {"snapshots": records, "totalBytes": sum(r["sizeBytes"] or 0 for r in records),
                "snapshotCount": len(records)}

    async def get(self, snapshot_id: str) -> dict:
        record = await asyncio.to_thread(self.catalog.get, snapshot_id)
        if record is None:
            raise NotFound("Snapshot not found")
        return public(record)

    async def delete(self, snapshot_id: str) -> None:
        async with self._exclusive():
            if not await asyncio.to_thread(self.catalog.delete, snapshot_id):
                raise NotFound("Snapshot not found")

    # ---- create -----------------------------------------------------------------------------

    async def create(self, label: str | None = None, kind: str = "manual") -> dict:
        """The completed, verified snapshot; a failed one stays listed (status failed) and
        raises a 500 that carries it."""
        async with self._exclusive():
            record = public(await self._create(label or "Manual snapshot", kind))
        if record["status"] != "completed":
            raise ApiError(f"Snapshot failed: {record['error']}", extra={"snapshot": record})
        return record

    def _exclusive(self):
        if self._lock.locked():
            raise Conflict(BUSY)
        return self._lock

    exclusive = _exclusive  # for other whole-data operations (data seed and clear)

    async def safety_snapshot(self, label: str) -> dict:
        """A snapshot before a destructive operation, under the caller's exclusive(); raises
        unless it completed, so nothing is destroyed without a way back."""
        record = await self._create(f"{label}-{to_iso(self.now())}", "manual")
        if record["status"] != "completed":
            raise ApiError(f"The safety snapshot failed ({record['error']}); nothing was changed")
        return record

    async def refuse_while_tasks_run(self, action: str) -> None:
        running = await store.running_tasks(self.db)
        if running:
            raise Conflict(f"Cannot {action} while tasks are running; wait for them or cancel them",
                           extra={"runningTasks": running})

    async def _create(self, label: str, kind: str) -> dict:
        record = {"id": new_id(), "label": label, "type": kind, "status": "in_progress",
                  "filePath": None, "sizeBytes": 0, "dbSizeBytes": 0, "filesSizeBytes": 0,
                  "fileCount": 0, "error": None, "createdAt": to_iso(self.now()), "verified": False}
        record["filePath"] = str(self.catalog.folder(record["id"]))
        try:
            await asyncio.to_thread(self.catalog.save, record)
        except OSError as exc:
            raise ApiError(f"Cannot write the snapshot folder: {exc}") from None
        try:
            record.update(await asyncio.to_thread(self._make, record["id"]))
            record["status"] = "completed"
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the snapshot itself
            log.exception("snapshot %s failed", record["id"])
            record.update(status="failed", error=str(exc) or type(exc).__name__, verified=False)
        await asyncio.to_thread(self.catalog.save, record)
        return record

    def _make(self, snapshot_id: str) -> dict:
        """Blocking: the copy, the archive, their verification; the manifest's new fields."""
        folder = self.catalog.folder(snapshot_id)
        db_copy, archive = folder / files.SNAPSHOT_DB_NAME, folder / files.ARCHIVE_NAME
        files.ensure_space(folder, files.database_bytes(self.db.path))
        files.backup_database(self.db.path, db_copy)
        files.check_database(db_copy)
        info = files.archive_data_files(self.data_dir, archive)
        db_size, archive_size = db_copy.stat().st_size, archive.stat().st_size
        return {"dbSizeBytes": db_size, "filesSizeBytes": info.size_bytes, "fileCount": info.file_count,
                "sizeBytes": db_size + archive_size, "archiveBytes": archive_size,
                "dbSha256": files.sha256_of(db_copy), "filesSha256": info.sha256,
                "integrityCheck": "ok", "verified": True, "verifiedAt": to_iso(datetime.now(UTC))}

    # ---- restore ----------------------------------------------------------------------------

    async def restore(self, snapshot_id: str) -> dict:
        async with self._exclusive():
            record = await asyncio.to_thread(self.catalog.get, snapshot_id)
            if record is None:
                raise NotFound("Snapshot not found")
            if record.get("status") != "completed":
                raise Conflict(f"Snapshot is {record.get('status')}, not completed; it cannot be restored")
            await self.refuse_while_tasks_run("restore")
            await self._verify(record)
            pre = await self.safety_snapshot("pre-restore")
            try:
                await asyncio.to_thread(self._stage, record)
            except SchemaTooNew as exc:
                await asyncio.to_thread(self.journal.clean_up)
                raise Conflict(str(exc)) from None
            except (files.SnapshotCorrupt, OSError) as exc:
                await asyncio.to_thread(self.journal.clean_up)
                raise Conflict(f"Snapshot cannot be restored: {exc}") from None
            requires_restart = await self._swap(snapshot_id)
        message = ("Restored; restart the daemon to finish" if requires_restart
                   else f"Restored snapshot \"{record['label']}\"; the data is live now")
        return {"success": True, "requiresRestart": requires_restart, "preRestoreSnapshotId": pre["id"],
                "message": message}

    async def _verify(self, record: dict) -> None:
        folder = self.catalog.folder(record["id"])
        try:
            await asyncio.to_thread(files.verify_snapshot, folder, record)
        except files.SnapshotCorrupt as exc:
            failed = {**record, "status": "failed", "verified": False, "error": f"verification failed: {exc}"}
            await asyncio.to_thread(self.catalog.save, failed)
            raise Conflict(f"Snapshot is corrupted and was not restored: {exc}") from None

    def _stage(self, record: dict) -> None:
        """Blocking: `.restore/new` holds the migrated database copy and the unpacked files."""
        folder = self.catalog.folder(record["id"])
        self.journal.reset()
        files.ensure_space(self.journal.root, sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) * 2)
        staged = self.journal.new / files.DB_NAME
        shutil.copyfile(folder / files.SNAPSHOT_DB_NAME, staged)
        store.migrate_staged(staged)
        files.extract_archive(folder / files.ARCHIVE_NAME, self.journal.new)
        files.fsync_dir(self.journal.new)

    async def _swap(self, snapshot_id: str) -> bool:
        """True when the swap has to wait for the next start."""
        try:
            await self.runtime.suspend()
        except Exception:  # noqa: BLE001 - something would not let go of the database
            log.exception("restore: the runtime could not be suspended; the swap waits for a restart")
            await asyncio.to_thread(self.journal.stage_done, snapshot_id, apply_at_start=True)
            try:
                await self.runtime.resume()
            except Exception:  # noqa: BLE001 - the daemon keeps serving what it can until the restart
                log.exception("restore: resuming after a failed suspend")
            return True
        try:
            await asyncio.to_thread(self._swap_files, snapshot_id)
        finally:
            await self.runtime.resume()
        return False

    def _swap_files(self, snapshot_id: str) -> None:
        """Blocking, with every connection closed. On a failure before the commit the old data
        is put back (the journal's own roll-back) and the error raised."""
        try:
            store.carry_over(self.journal.new / files.DB_NAME, self.db.path)
            self.journal.stage_done(snapshot_id)
            self.journal.swap()
        except Exception:
            state = self.journal.read() or {}
            if state.get("phase") == "moving":
                self.journal.roll_back(state.get("entries", []))
            self.journal.clean_up()
            raise
        self.journal.clean_up()

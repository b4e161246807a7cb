"""Seed and clear: one whole-data operation at a time (the snapshot lock), refused while tasks
run, after a safety snapshot; the write is one transaction; then the engines are rebuilt so no
in-memory state (log sequence, timers, caches) remembers the data that went away."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

from ...db import Database
from ...store import data as store
from ..snapshots.engine import Snapshots
from . import seed as sample

FILE_DIRS = {"files": "uploads", "screenshots": "screenshots"}
SEED_KEYS = ("profiles", "projects", "tasks", "workflows", "schedules", "documents", "agentLogs", "notifications",
             "usageLedger", "conversations", "chatMessages", "learnedContext", "views", "profileTestResults",
             "repoImports", "userTables", "userTableRows")


class DataOps:
    def __init__(self, db: Database, data_dir: Path, snapshots: Snapshots):
        self.db, self.data_dir, self.snapshots = db, data_dir, snapshots

    async def clear(self) -> dict:
        async with self.snapshots.exclusive():
            await self.snapshots.refuse_while_tasks_run("clear data")
            snapshot = await self.snapshots.safety_snapshot("pre-clear")
            deleted = await self.db.write(store.clear_in)
            deleted.update(await asyncio.to_thread(self._remove_files))
            await self.snapshots.runtime.reload()
        return {"success": True, "deleted": deleted, "snapshotId": snapshot["id"]}

    async def seed(self) -> dict:
        async with self.snapshots.exclusive():
            await self.snapshots.refuse_while_tasks_run("seed data")
            snapshot = await self.snapshots.safety_snapshot("pre-seed")
            await asyncio.to_thread(self._remove_files)
            uploads = self.data_dir / "uploads"
            now = datetime.now(UTC)
            rows = sample.build(now)
            optional = sample.optional_groups(now, [r["id"] for r in dict(rows)["projects"]], str(uploads))

            def write(conn):
                store.clear_in(conn)
                counts = {table: store.insert_rows(conn, table, table_rows) for table, table_rows in rows}
                for group in optional:
                    counts.update(store.insert_group(conn, group))
                return counts

            counts = await self.db.write(write)
            if counts.get("documents"):
                paths = [Path(d["storage_path"]) for t, group in _flat(optional) if t == "documents" for d in group]
                await asyncio.to_thread(_write_files, paths)
            await self.snapshots.runtime.reload()
        seeded = {key: 0 for key in SEED_KEYS}
        seeded.update({store.camel(table): n for table, n in counts.items()})
        return {"success": True, "seeded": seeded, "snapshotId": snapshot["id"]}

    def _remove_files(self) -> dict[str, int]:
        removed = {}
        for key, name in FILE_DIRS.items():
            folder = self.data_dir / name
            removed[key] = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
        return removed


def _flat(groups):
    return [item for group in groups for item in group]


def _write_files(paths: list[Path]) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sample.DOC_TEXT)

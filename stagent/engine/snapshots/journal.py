"""The restore swap and its journal: after a crash at any point the data dir holds the old data
or the new, never a mix.

`<data dir>/.restore/` holds `new/` (the staged database and files), `old/` (what they replace,
moved aside) and `journal.json`, whose phase says which way a start must go:

- no journal, or `staged`: nothing moved yet → the staging is discarded (old data), unless the
  journal says `applyAtStart` (a restore that could not swap live): then the swap runs now;
- `moving`: some entries moved → each is put back (old data);
- `committed`: every entry moved → only the clean-up is left (new data).

Every move is one rename(2) within the data dir's file system, and the journal is replaced
atomically and fsynced before and after the moves.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path

from .files import DB_NAME, RESTORE_DIR, data_entries, fsync_dir

log = logging.getLogger("stagent.snapshots")
JOURNAL = "journal.json"
# Test hook: the restore kills its own process (SIGKILL) at the named point.
CRASH_ENV = "STAGENT_RESTORE_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Journal:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.root = data_dir / RESTORE_DIR
        self.new = self.root / "new"
        self.old = self.root / "old"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.new.mkdir(parents=True)
        self.old.mkdir()

    def read(self) -> dict | None:
        try:
            with open(self.root / JOURNAL) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write(self, state: dict) -> None:
        tmp = self.root / f".{JOURNAL}.tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / JOURNAL)
        fsync_dir(self.root)

    def stage_done(self, snapshot_id: str, *, apply_at_start: bool = False) -> None:
        self.write({"phase": "staged", "snapshotId": snapshot_id, "applyAtStart": apply_at_start})
        crash_point("staged")

    def names(self) -> list[str]:
        """What a swap replaces: the database files, and every data entry on either side (an
        entry the snapshot lacks goes away)."""
        files = set(data_entries(self.data_dir)) | set(data_entries(self.new))
        return [DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", *sorted(files)]

    def swap(self) -> None:
        """Move every entry aside and the staged one in, then commit. The caller has closed
        every connection to the database."""
        names = self.names()
        state = self.read() or {}
        entries = [{"name": n, "hadOld": os.path.lexists(self.data_dir / n),
                    "hasNew": os.path.lexists(self.new / n)} for n in names]
        self.write({**state, "phase": "moving", "entries": entries})
        crash_point("moving")
        step = 0
        for entry in entries:
            for _ in self._move(entry):
                step += 1
                crash_point(f"move-{step}")
        fsync_dir(self.data_dir)
        fsync_dir(self.old)
        self.write({**state, "phase": "committed", "entries": entries})
        crash_point("committed")

    def _move(self, entry: dict):
        name = entry["name"]
        if entry["hadOld"]:
            os.replace(self.data_dir / name, self.old / name)
            yield name
        if entry["hasNew"]:
            os.replace(self.new / name, self.data_dir / name)
            yield name

    def roll_back(self, entries: list[dict]) -> None:
        trash = self.root / "trash"
        trash.mkdir(exist_ok=True)
        for entry in reversed(entries):
            name, current = entry["name"], self.data_dir / entry["name"]
            if entry["hasNew"] and not os.path.lexists(self.new / name) and os.path.lexists(current):
                os.replace(current, trash / name)  # the staged entry had been moved in
            if entry["hadOld"] and os.path.lexists(self.old / name):
                os.replace(self.old / name, current)
        fsync_dir(self.data_dir)

    def clean_up(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def recover(self) -> str | None:
        """At start, before the database opens: finish or undo a restore a crash cut off.
        Returns what was done (for the log), or None when there was nothing."""
        if not self.root.exists():
            return None
        state = self.read()
        phase = (state or {}).get("phase")
        if phase == "committed":
            outcome = "restore completed"
        elif phase == "moving":
            self.roll_back(state.get("entries", []))
            outcome = "restore rolled back"
        elif phase == "staged" and state.get("applyAtStart"):
            self.swap()
            outcome = "restore applied at start"
        else:
            outcome = "unfinished restore discarded" if state else None
        self.clean_up()
        if outcome:
            log.warning("snapshot %s: %s", (state or {}).get("snapshotId"), outcome)
        return outcome

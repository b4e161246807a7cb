"""A restore killed (SIGKILL) at each point of its swap leaves the old data or the new, never
a mix: the next start rolls the journal forward or back (engine/snapshots/journal.py)."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from stagent.engine.snapshots.journal import CRASH_ENV
from tests.helpers.processes import daemon_process
from tests.helpers.servers import free_port

# staged, moving, then one point per rename (db, -wal, -shm, the data entries: old out / new in)
CRASH_POINTS = ("staged", "moving", "move-1", "move-2", "move-3", "move-4", "move-5", "committed")


def state_of(data_dir) -> tuple[frozenset, str, bool]:
    with sqlite3.connect(data_dir / "stagent.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = frozenset(r[0] for r in conn.execute("SELECT name FROM projects"))
    uploads = data_dir / "uploads"
    return names, (uploads / "a.txt").read_text(), (data_dir / "notes").exists()


@pytest.mark.parametrize("point", CRASH_POINTS)  # a free port and its own data dir: runs beside others
def test_sigkill_during_restore_leaves_old_or_new(tmp_path, fake, point):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(data_dir, port, fake, {CRASH_ENV: point}) as proc:
        (data_dir / "uploads").mkdir()
        (data_dir / "uploads" / "a.txt").write_text("new")
        httpx.post(f"{base}/api/projects", json={"name": "in snapshot"})
        snap = httpx.post(f"{base}/api/snapshots", timeout=60).json()
        httpx.post(f"{base}/api/projects", json={"name": "after snapshot"})
        (data_dir / "uploads" / "a.txt").write_text("old")
        (data_dir / "notes").mkdir()  # a data entry the snapshot lacks: removed by the restore
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{base}/api/snapshots/{snap['id']}/restore", timeout=60)
        proc.wait(timeout=30)

    old = (frozenset({"in snapshot", "after snapshot"}), "old", True)
    new = (frozenset({"in snapshot"}), "new", False)
    with daemon_process(data_dir, port, fake):
        after = state_of(data_dir)
        assert after == (new if point == "committed" else old)
        assert not (data_dir / ".restore").exists()
        names = {p["name"] for p in httpx.get(f"{base}/api/projects").json()}
        assert names == set(after[0])


@pytest.mark.parametrize("apply_at_start", [True, False])
def test_a_staged_restore_is_applied_at_start_only_when_marked(tmp_path, apply_at_start):
    """The swap a live restore could not make (`requiresRestart: true`) is made by the next
    start; a staging without that mark is discarded."""
    from stagent.engine.snapshots.journal import Journal

    data = tmp_path / "data"

    def fill(folder, text):
        (folder / "uploads").mkdir(parents=True)
        (folder / "uploads" / "a.txt").write_text(text)
        with sqlite3.connect(folder / "stagent.db") as conn:
            conn.execute("CREATE TABLE projects (name TEXT)")
            conn.execute("INSERT INTO projects VALUES (?)", (text,))

    fill(data, "old")
    journal = Journal(data)
    journal.reset()
    fill(journal.new, "new")
    journal.stage_done("snap-1", apply_at_start=apply_at_start)
    assert journal.recover() == ("restore applied at start" if apply_at_start else "unfinished restore discarded")
    expected = "new" if apply_at_start else "old"
    with sqlite3.connect(data / "stagent.db") as conn:
        assert conn.execute("SELECT name FROM projects").fetchall() == [(expected,)]
    assert (data / "uploads" / "a.txt").read_text() == expected
    assert not (data / ".restore").exists()

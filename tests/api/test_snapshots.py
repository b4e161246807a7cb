"""/api/snapshots: verified snapshots made while the daemon serves writes, restore in place
(no restart), refusals (corrupt, newer schema, running tasks), auto-backup retention on the
scheduler's clock."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from datetime import timedelta

import httpx
import pytest

from tests.helpers.scheduling import scheduled_daemon, utc, wait_until
from tests.test_cli import run_cli


def project_names(client) -> set[str]:
    return {p["name"] for p in client.get("/api/projects").json()}


def snapshot_dir(daemon, snapshot_id):
    return daemon.data_dir / "snapshots" / snapshot_id


def test_create_list_get_delete(daemon, client):
    (daemon.data_dir / "uploads").mkdir()
    (daemon.data_dir / "uploads" / "a.txt").write_text("alpha")
    r = client.post("/api/snapshots", json={"label": "first"})
    assert r.status_code == 201, r.text
    snap = r.json()
    assert snap["status"] == "completed" and snap["verified"] and snap["label"] == "first"
    assert snap["type"] == "manual" and snap["fileCount"] == 1 and snap["filesSizeBytes"] == 5
    assert snap["dbSizeBytes"] > 0 and snap["sizeBytes"] > snap["dbSizeBytes"]
    assert snap["verification"]["integrityCheck"] == "ok" and len(snap["verification"]["filesSha256"]) == 64
    folder = snapshot_dir(daemon, snap["id"])
    assert hashlib.sha256((folder / "files.tar.gz").read_bytes()).hexdigest() == snap["verification"]["filesSha256"]
    assert client.post("/api/snapshots").json()["label"] == "Manual snapshot"

    listing = client.get("/api/snapshots").json()
    assert listing["snapshotCount"] == 2 and listing["totalBytes"] == sum(s["sizeBytes"] for s in listing["snapshots"])
    assert client.get(f"/api/snapshots/{snap['id']}").json() == snap
    assert client.delete(f"/api/snapshots/{snap['id']}").json() == {"success": True}
    assert not folder.exists()
    for path in (f"/api/snapshots/{snap['id']}", "/api/snapshots/..", "/api/snapshots/nope"):
        assert client.get(path).status_code == 404
    assert client.delete(f"/api/snapshots/{snap['id']}").status_code == 404
    assert client.post("/api/snapshots/nope/restore").status_code == 404


def test_settings_round_trip_and_validation(client):
    assert client.get("/api/snapshots/settings").json() == {
        "enabled": "false", "interval": "1d", "maxCount": "10", "maxAgeWeeks": "4"}
    assert client.put("/api/snapshots/settings", json={"enabled": True, "maxCount": 3}).json() == {"success": True}
    assert client.put("/api/snapshots/settings", json={"interval": "6h", "maxAgeWeeks": "2"}).status_code == 200
    assert client.get("/api/snapshots/settings").json() == {
        "enabled": "true", "interval": "6h", "maxCount": "3", "maxAgeWeeks": "2"}
    for bad in ({"interval": "soon"}, {"interval": "1m"}, {"maxCount": -1}, {"maxAgeWeeks": "x"},
                {"enabled": "maybe"}, {"maxCount": [1]}):
        r = client.put("/api/snapshots/settings", json=bad)
        assert r.status_code == 400, bad
        assert r.json()["error"]["fieldErrors"]
    assert client.get("/api/snapshots/settings").json()["interval"] == "6h"


def test_snapshot_under_a_continuous_writer_is_consistent(daemon, client):
    for i in range(300):  # something to copy
        client.post("/api/projects", json={"name": f"seed {i}", "description": "x" * 500})
    stop, failures, written = threading.Event(), [], []

    def writer():
        with httpx.Client(base_url=daemon.url, timeout=30) as c:
            n = 0
            while not stop.is_set():
                r = c.post("/api/projects", json={"name": f"live {n}"})
                (written if r.status_code == 201 else failures).append(r.status_code)
                n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_until(lambda: len(written) >= 20, what="writes before the snapshot")
        before = len(written)
        snap = client.post("/api/snapshots").json()
        wait_until(lambda: len(written) >= before + 20, what="writes after the snapshot")
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert snap["status"] == "completed" and snap["verified"]
    with sqlite3.connect(snapshot_dir(daemon, snap["id"]) / "snapshot.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        live = conn.execute("SELECT COUNT(*) FROM projects WHERE name LIKE 'live %'").fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT name FROM projects WHERE name LIKE 'live %'")}
    assert before <= live <= len(written)
    assert names == {f"live {n}" for n in range(live)}  # a prefix of the writes: one moment in time


def test_restore_in_place_without_restart(daemon, client):
    uploads = daemon.data_dir / "uploads"
    uploads.mkdir()
    (uploads / "a.txt").write_text("version A")
    client.post("/api/projects", json={"name": "A"})
    snap = client.post("/api/snapshots", json={"label": "at A"}).json()

    client.post("/api/projects", json={"name": "B"})
    (uploads / "a.txt").write_text("version B")
    (uploads / "b.txt").write_text("only in B")
    (daemon.data_dir / "blueprints").mkdir(exist_ok=True)

    r = client.post(f"/api/snapshots/{snap['id']}/restore")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] and body["requiresRestart"] is False and body["preRestoreSnapshotId"]
    assert project_names(client) == {"A"}
    assert (uploads / "a.txt").read_text() == "version A" and not (uploads / "b.txt").exists()
    assert not (daemon.data_dir / ".restore").exists()

    # the daemon goes on: writes, reads, the snapshot list (pre-restore snapshot included)
    assert client.post("/api/projects", json={"name": "C"}).status_code == 201
    assert project_names(client) == {"A", "C"}
    ids = [s["id"] for s in client.get("/api/snapshots").json()["snapshots"]]
    assert snap["id"] in ids and body["preRestoreSnapshotId"] in ids

    back = client.post(f"/api/snapshots/{body['preRestoreSnapshotId']}/restore")
    assert back.status_code == 200, back.text
    assert project_names(client) == {"A", "B"}
    assert (uploads / "a.txt").read_text() == "version B" and (uploads / "b.txt").read_text() == "only in B"


def test_corrupted_snapshot_is_refused(daemon, client):
    client.post("/api/projects", json={"name": "keep"})
    snap = client.post("/api/snapshots").json()
    client.post("/api/projects", json={"name": "after"})
    db_copy = snapshot_dir(daemon, snap["id"]) / "snapshot.db"
    data = bytearray(db_copy.read_bytes())
    data[5000:5100] = b"\xff" * 100
    db_copy.write_bytes(bytes(data))

    r = client.post(f"/api/snapshots/{snap['id']}/restore")
    assert r.status_code == 409 and "corrupt" in r.json()["error"]
    assert project_names(client) == {"keep", "after"}
    after = client.get(f"/api/snapshots/{snap['id']}").json()
    assert after["status"] == "failed" and not after["verified"]
    assert client.get("/api/snapshots").json()["snapshotCount"] == 1  # no pre-restore snapshot either


def test_snapshot_of_a_newer_schema_is_refused(daemon, client):
    snap = client.post("/api/snapshots").json()
    folder = snapshot_dir(daemon, snap["id"])
    with sqlite3.connect(folder / "snapshot.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('m999_future', '2030-01-01')")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["dbSha256"] = hashlib.sha256((folder / "snapshot.db").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    client.post("/api/projects", json={"name": "still here"})

    r = client.post(f"/api/snapshots/{snap['id']}/restore")
    assert r.status_code == 409 and "newer" in r.json()["error"]
    assert project_names(client) == {"still here"}
    assert not (daemon.data_dir / ".restore").exists()


def test_restore_refused_while_a_task_runs(daemon, client, llm_env):
    snap = client.post("/api/snapshots").json()
    llm_env.enqueue_hang(chunk_delay=0.05, chunks=2000)
    task = client.post("/api/tasks", json={"title": "busy"}).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"})
    client.post(f"/api/tasks/{task['id']}/execute")
    daemon.wait_for_status(task["id"], {"running"})
    r = client.post(f"/api/snapshots/{snap['id']}/restore")
    assert r.status_code == 409
    assert r.json()["runningTasks"] == [{"id": task["id"], "title": "busy"}]
    client.post(f"/api/tasks/{task['id']}/cancel")


def test_auto_backup_and_retention_follow_the_scheduler_clock(tmp_path):
    start = utc(2026, 1, 5, 9, 0)
    daemon, clock = scheduled_daemon(tmp_path / "data", start)
    client = daemon.client
    try:
        def autos():
            return sorted(s["createdAt"] for s in client.get("/api/snapshots").json()["snapshots"]
                          if s["type"] == "auto" and s["status"] == "completed")

        client.post("/api/snapshots", json={"label": "mine"})  # manual: never pruned
        client.put("/api/snapshots/settings", json={"enabled": "true", "interval": "1d", "maxCount": 2,
                                                   "maxAgeWeeks": 1})
        wait_until(lambda: len(autos()) == 1, what="the first auto backup")
        for day in (1, 2, 3):
            clock.set(start + timedelta(days=day))
            wait_until(lambda d=day: autos() and autos()[-1].startswith(f"2026-01-0{5 + d}"),
                       what=f"the auto backup of day {day}")
        wait_until(lambda: autos() == ["2026-01-07T09:00:00.000Z", "2026-01-08T09:00:00.000Z"],
                   what="maxCount pruning")
        clock.set(start + timedelta(days=20))
        wait_until(lambda: autos() == ["2026-01-25T09:00:00.000Z"], what="maxAgeWeeks pruning")
        labels = [s["label"] for s in client.get("/api/snapshots").json()["snapshots"]]
        assert "mine" in labels
    finally:
        daemon.stop()


@pytest.mark.serial
def test_cli_create_list_restore(daemon, client):
    client.post("/api/projects", json={"name": "before"})
    made = run_cli(daemon, "snapshot", "create", "--label", "from the cli")
    assert made.returncode == 0, made.stderr
    assert "verified" in made.stdout
    client.post("/api/projects", json={"name": "later"})
    listed = run_cli(daemon, "snapshot", "list")
    assert listed.returncode == 0 and "from the cli" in listed.stdout and "yes" in listed.stdout
    snap = client.get("/api/snapshots").json()["snapshots"][0]
    restored = run_cli(daemon, "snapshot", "restore", snap["id"][:8], "--yes")
    assert restored.returncode == 0, restored.stderr
    assert project_names(client) == {"before"}
    missing = run_cli(daemon, "snapshot", "restore", "zzzz", "--yes")
    assert missing.returncode == 1 and "No snapshot" in missing.stderr


def test_one_operation_at_a_time(daemon, client):
    snap = client.post("/api/snapshots").json()
    lock = daemon.app.state.snapshots._lock
    asyncio.run_coroutine_threadsafe(lock.acquire(), daemon.loop).result(10)
    try:
        for method, path in (("POST", "/api/snapshots"), ("POST", f"/api/snapshots/{snap['id']}/restore"),
                             ("DELETE", f"/api/snapshots/{snap['id']}"), ("POST", "/api/data/seed"),
                             ("POST", "/api/data/clear")):
            r = client.request(method, path)
            assert r.status_code == 409, (method, path)
            assert r.json()["error"] == "Another snapshot operation is already in progress"
    finally:
        daemon.loop.call_soon_threadsafe(lock.release)
    assert client.post("/api/snapshots").status_code == 201


def test_snapshot_of_an_older_schema_is_migrated_on_restore(daemon, client):
    client.post("/api/projects", json={"name": "old times"})
    snap = client.post("/api/snapshots").json()
    folder = snapshot_dir(daemon, snap["id"])
    with sqlite3.connect(folder / "snapshot.db") as conn:  # as if made before m015 existed
        conn.execute("DROP TABLE profiles")
        conn.execute("DELETE FROM schema_migrations WHERE name = 'm015_profiles'")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["dbSha256"] = hashlib.sha256((folder / "snapshot.db").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))

    assert client.post(f"/api/snapshots/{snap['id']}/restore").status_code == 200
    assert project_names(client) == {"old times"}
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations WHERE name = 'm015_profiles'").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM profiles").fetchone()[0] >= 0
    assert client.get("/api/profiles").status_code == 200


def test_requests_during_a_restore_wait_and_succeed(daemon, client):
    for i in range(50):
        client.post("/api/projects", json={"name": f"p{i}"})
    snap = client.post("/api/snapshots").json()
    client.post("/api/projects", json={"name": "extra"})
    stop, statuses, seen = threading.Event(), [], []

    def reader():
        with httpx.Client(base_url=daemon.url, timeout=60) as c:
            while not stop.is_set():
                r = c.get("/api/projects")
                statuses.append(r.status_code)
                if r.status_code == 200:
                    seen.append(len(r.json()))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(statuses) >= 10, what="reads before the restore")
        assert client.post(f"/api/snapshots/{snap['id']}/restore").status_code == 200
        count = len(statuses)
        wait_until(lambda: len(statuses) >= count + 10, what="reads after the restore")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert set(statuses) == {200}
    assert set(seen) == {50, 51} and seen[-1] == 50  # old, then new: never an error or a half state


def test_a_snapshot_that_cannot_be_written_is_a_clear_500(daemon, client):
    client.post("/api/projects", json={"name": "precious"})
    (daemon.data_dir / "snapshots").write_text("a file where the snapshots folder belongs")
    r = client.post("/api/snapshots")
    assert r.status_code == 500 and "Cannot write the snapshot folder" in r.json()["error"]
    assert client.get("/api/snapshots").json() == {"snapshots": [], "totalBytes": 0, "snapshotCount": 0}
    assert client.post("/api/data/clear").status_code == 500  # no safety snapshot, no clear
    assert client.post("/api/data/clear").json()["success"] is False
    assert project_names(client) == {"precious"}

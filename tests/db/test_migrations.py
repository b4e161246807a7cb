"""Migrations: blank → full schema, re-running is a no-op, a newer database is refused; the
writer and readers are opened with the documented pragmas."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stagent.app import create_app
from stagent.config import Config
from stagent.db import Database, migrations
from stagent.db.migrations import MIGRATIONS, SchemaTooNew, migrate

REPO = Path(__file__).resolve().parents[2]
TABLES = {"schema_migrations", "projects", "tasks", "agent_logs", "notifications", "usage_ledger",
          "documents", "project_document_defaults", "settings", "agent_sessions", "api_keys"}
FUTURE = "m999_from_a_newer_stagent"


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _schema(conn) -> list[tuple]:
    return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def _too_new_db(path: Path) -> None:
    conn = _connect(path)
    migrate(conn)
    conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (FUTURE, "2099-01-01T00:00:00Z"))
    conn.close()


def test_blank_database_gets_every_table(tmp_path):
    conn = _connect(tmp_path / "stagent.db")
    applied = migrate(conn)
    assert applied == [m.__name__ for m in MIGRATIONS]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert TABLES <= tables
    recorded = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
    assert recorded == applied
    assert not conn.in_transaction


def test_migrations_are_named_in_order():
    names = [m.__name__ for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    numbers = [int(name[1:4]) for name in names]
    assert all(name[0] == "m" and name[4] == "_" for name in names)
    # strictly increasing from 1; numbers are handed out per branch, so one may be unused
    assert numbers[0] == 1 and numbers == sorted(set(numbers))


def test_migrating_twice_is_a_no_op(tmp_path):
    conn = _connect(tmp_path / "stagent.db")
    migrate(conn)
    conn.execute("INSERT INTO projects (id, name, created_at, updated_at) VALUES ('p', 'kept', 'x', 'x')")
    schema, recorded = _schema(conn), conn.execute("SELECT * FROM schema_migrations").fetchall()

    assert migrate(conn) == []
    assert _schema(conn) == schema
    assert conn.execute("SELECT * FROM schema_migrations").fetchall() == recorded
    assert conn.execute("SELECT name FROM projects").fetchall() == [("kept",)]


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path, monkeypatch):
    def m002_half_done(conn):
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, m002_half_done])
    conn = _connect(tmp_path / "stagent.db")
    with pytest.raises(RuntimeError, match="boom"):
        migrate(conn)
    assert not conn.in_transaction
    recorded = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    assert recorded == {m.__name__ for m in MIGRATIONS}
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half'").fetchone() is None


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "stagent.db"
    _too_new_db(path)
    conn = _connect(path)
    schema = _schema(conn)
    with pytest.raises(SchemaTooNew) as refused:
        migrate(conn)
    message = str(refused.value)
    assert FUTURE in message
    assert "newer stagent" in message
    assert "--data-dir" in message
    assert _schema(conn) == schema  # nothing was touched


def test_the_lifespan_refuses_a_newer_database(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _too_new_db(data_dir / "stagent.db")
    app = create_app(Config(data_dir=data_dir, warm_llm=False))

    async def start():
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(SchemaTooNew, match=FUTURE):
        asyncio.run(start())
    assert not (data_dir / "api-key").exists()  # it stopped before doing anything else


def test_serve_exits_with_the_message_and_no_traceback(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _too_new_db(data_dir / "stagent.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGENT_")}
    result = subprocess.run([sys.executable, "-m", "stagent", "serve", "--port", "1", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert FUTURE in result.stderr
    assert "newer stagent" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout


def test_writer_and_readers_have_the_pragmas(tmp_path):
    async def check():
        db = Database(tmp_path / "stagent.db")
        await db.open()
        try:
            await db.write_raw(migrate)
            writer = await db.write_raw(lambda c: {p: c.execute(f"PRAGMA {p}").fetchone()[0]
                                                   for p in ("journal_mode", "foreign_keys", "busy_timeout")})
            def pragmas(c):
                return c.execute("PRAGMA foreign_keys").fetchone()[0], c.execute("PRAGMA busy_timeout").fetchone()[0]

            on_loop = await db.read(pragmas)
            # A read from another thread never runs on the loop's connection: it shows the reader threads'.
            readers = [await asyncio.to_thread(asyncio.run, db.read(pragmas)) for _ in range(3)]
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                await db.read(lambda c: c.execute(
                    "INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 'x')"))
            with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
                await db.write(lambda c: c.execute(
                    "INSERT INTO tasks (id, project_id, title, created_at, updated_at) "
                    "VALUES ('t', 'no-such-project', 't', 'x', 'x')"))
            return writer, on_loop, readers
        finally:
            await db.close()

    writer, on_loop, readers = asyncio.run(check())
    assert writer == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}
    assert on_loop == (1, 0)  # the loop's own read connection gives up at once instead of waiting
    assert readers == [(1, 5000)] * 3

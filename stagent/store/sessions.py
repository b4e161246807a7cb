"""Agent sessions: the saved conversation (the messages list) of a task's runs, so a resumed or
restarted run continues it."""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, loads, now_iso


async def messages(db: Database, session_id: str) -> list[dict] | None:
    """The saved messages, or None when the session is unknown or unreadable."""
    return loads(await db.scalar("SELECT messages FROM agent_sessions WHERE id = ?", (session_id,)), None)


def save_in(conn, session_id: str, task_id: str, messages_text: str) -> None:
    """Insert or replace the session's messages (JSON text), unless its task is gone."""
    _insert(conn, session_id, task_id, messages_text,
            "DO UPDATE SET messages = excluded.messages, updated_at = excluded.updated_at")


def create_in(conn, session_id: str, task_id: str, messages_text: str) -> None:
    """A new session's first messages; a save that got there first (a later state) is kept."""
    _insert(conn, session_id, task_id, messages_text, "DO NOTHING")


def _insert(conn, session_id: str, task_id: str, messages_text: str, on_conflict: str) -> None:
    conn.execute(
        "INSERT INTO agent_sessions (id, task_id, messages, updated_at) "
        f"SELECT ?,?,?,? WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?) ON CONFLICT(id) {on_conflict}",
        (session_id, task_id, messages_text, now_iso(), task_id))


async def save(db: Database, session_id: str, task_id: str, messages: list[dict]) -> None:
    text = dumps(messages)
    await db.write(lambda conn: save_in(conn, session_id, task_id, text))

"""Migration m020: a conversation may name an agent profile (`agent_profile`), which shapes its
chat turns as it shapes a task run (prompt, tool limit, policy, model, MCP servers)."""

from __future__ import annotations

import sqlite3


def m020_conversation_profile(conn: sqlite3.Connection) -> None:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
    if "agent_profile" not in columns:
        conn.execute("ALTER TABLE conversations ADD COLUMN agent_profile TEXT")

"""Conversations, chat messages, user skills and the Stan session row: plain SQL, data in and out.

Shared by Stagent chat, Stan and Lars (the `mode` column tells them apart). Messages keep the
shape the model saw (user / assistant with tool calls / tool result) so history replays
exactly; `compacted` marks messages a summary replaced in prompts (they stay in history).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound

CONVERSATION_STATUSES = ("active", "archived")
_CONV_FIELDS = ("project_id", "title", "runtime_id", "model_id", "status", "session_id",
                "context_scope", "mode", "owner", "personality", "active_skills", "agent_profile")
_MESSAGE_COLUMNS = ("seq, id, conversation_id, role, content, metadata, status, tool_calls, "
                    "tool_call_id, input_tokens, output_tokens, token_count, model, source, "
                    "compacted, created_at")
# What a person reads: tool results and the empty assistant rows that only asked for tools are
# steps of a turn, not messages of the conversation. The one place this rule is written.
_VISIBLE = "role != 'tool' AND NOT (role = 'assistant' AND tool_calls IS NOT NULL AND content = '')"
# The messages a prompt replays: everything not yet replaced by the summary, no failed replies.
_PROMPT_ROWS = (f"SELECT seq, id, role, content, tool_calls, tool_call_id, token_count, ({_VISIBLE}) AS visible "
                "FROM chat_messages WHERE conversation_id = ? AND compacted = 0 AND status != 'error' ORDER BY seq")


def conversation_out(row) -> dict:
    conv = row_to_dict(row)
    conv["activeSkills"] = loads(conv.get("activeSkills"), []) or []
    return conv


def message_out(row) -> dict:
    message = row_to_dict(row, bools=("compacted",))
    message["toolCalls"] = loads(message.get("toolCalls"), None)
    return message


def _select_conversation(conn: sqlite3.Connection, conversation_id: str):
    return conn.execute(
        "SELECT c.*, (SELECT COUNT(*) FROM chat_messages m WHERE m.conversation_id = c.id AND "
        f"{_VISIBLE}) AS message_count FROM conversations c WHERE c.id = ?", (conversation_id,)).fetchone()


def _require_project(conn: sqlite3.Connection, project_id: str | None) -> None:
    if project_id is not None and conn.execute(
            "SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
        raise Invalid("Project not found")


async def create_conversation(db: Database, fields: dict) -> dict:
    now = now_iso()
    values = {k: fields.get(k) for k in _CONV_FIELDS}
    values["id"] = fields.get("id") or new_id()
    values["status"] = values["status"] or "active"
    values["mode"] = values["mode"] or "chat"
    values["owner"] = values["owner"] or "local"
    values["active_skills"] = dumps(values["active_skills"] or [])
    values["created_at"] = values["updated_at"] = now

    def insert(conn):
        _require_project(conn, values["project_id"])
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (values["id"],)).fetchone():
            raise Conflict(f"Conversation {values['id']} already exists")
        conn.execute(f"INSERT INTO conversations ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     tuple(values.values()))
        return conversation_out(_select_conversation(conn, values["id"]))

    return await db.write(insert)


async def get_conversation(db: Database, conversation_id: str) -> dict:
    row = await db.read(lambda conn: _select_conversation(conn, conversation_id))
    if row is None:
        raise NotFound("Conversation not found")
    return conversation_out(row)


async def list_conversations(db: Database, *, owner: str | None = None, mode: str | None = None,
                             status: str | None = None, project_id: str | None = None,
                             limit: int | None = None) -> list[dict]:
    sql = (f"SELECT c.*, (SELECT COUNT(*) FROM chat_messages m WHERE m.conversation_id = c.id AND {_VISIBLE}) "
           "AS message_count FROM conversations c WHERE 1=1")
    params: list = []
    for column, value in (("owner", owner), ("mode", mode), ("status", status), ("project_id", project_id)):
        if value is not None:
            sql += f" AND c.{column} = ?"
            params.append(value)
    sql += " ORDER BY c.updated_at DESC, c.rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [conversation_out(r) for r in await db.fetchall(sql, params)]


async def update_conversation(db: Database, conversation_id: str, fields: dict) -> dict:
    changes = {k: (dumps(v) if k == "active_skills" else v) for k, v in fields.items() if k in _CONV_FIELDS}

    def update(conn):
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
            raise NotFound("Conversation not found")
        if "project_id" in changes:
            _require_project(conn, changes["project_id"])
        sets = "".join(f"{k} = ?, " for k in changes)
        conn.execute(f"UPDATE conversations SET {sets}updated_at = ? WHERE id = ?",
                     (*changes.values(), now_iso(), conversation_id))
        return conversation_out(_select_conversation(conn, conversation_id))

    return await db.write(update)


async def delete_conversation(db: Database, conversation_id: str) -> None:
    def delete(conn):
        if conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount == 0:
            raise NotFound("Conversation not found")

    await db.write(delete)


# ---- messages ------------------------------------------------------------------------------

def insert_message(conn: sqlite3.Connection, conversation_id: str, message: dict) -> dict:
    """Insert one message inside the caller's transaction; returns it with its seq."""
    values = {
        "id": message.get("id") or new_id(), "conversation_id": conversation_id,
        "role": message["role"], "content": message.get("content") or "",
        "metadata": dumps(message.get("metadata")), "status": message.get("status") or "complete",
        "tool_calls": dumps(message.get("tool_calls")), "tool_call_id": message.get("tool_call_id"),
        "input_tokens": message.get("input_tokens"), "output_tokens": message.get("output_tokens"),
        "token_count": message.get("token_count") or 0, "model": message.get("model"),
        "source": message.get("source"), "created_at": now_iso(),
    }
    cursor = conn.execute(f"INSERT INTO chat_messages ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                          tuple(values.values()))
    return {**values, "seq": cursor.lastrowid}


def touch(conn: sqlite3.Connection, conversation_id: str, **fields) -> None:
    sets = "".join(f"{k} = ?, " for k in fields)
    conn.execute(f"UPDATE conversations SET {sets}updated_at = ? WHERE id = ?",
                 (*fields.values(), now_iso(), conversation_id))


async def list_messages(db: Database, conversation_id: str, *, limit: int | None = None,
                        after: str | None = None, visible_only: bool = False) -> list[dict]:
    """Messages in order. `after` is a message id cursor."""

    def read(conn):
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
            raise NotFound("Conversation not found")
        sql, params = f"SELECT {_MESSAGE_COLUMNS} FROM chat_messages WHERE conversation_id = ?", [conversation_id]
        if after:
            row = conn.execute("SELECT seq FROM chat_messages WHERE id = ? AND conversation_id = ?",
                               (after, conversation_id)).fetchone()
            if row is None:
                raise Invalid(f"Unknown message id in 'after': {after}")
            sql += " AND seq > ?"
            params.append(row["seq"])
        if visible_only:
            sql += f" AND {_VISIBLE}"
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return conn.execute(sql, params).fetchall()

    return [message_out(r) for r in await db.read(read)]


def _prompt_rows(conn: sqlite3.Connection, conversation_id: str) -> list[dict]:
    """{seq, id, role, content, tool_calls, tool_call_id, token_count, visible} per row."""
    return [{**dict(r), "visible": bool(r["visible"])} for r in conn.execute(_PROMPT_ROWS, (conversation_id,))]


async def prompt_rows(db: Database, conversation_id: str) -> list[dict]:
    """The messages a prompt replays: everything not yet replaced by the summary."""
    return await db.read(lambda conn: _prompt_rows(conn, conversation_id))


async def turn_state(db: Database, conversation_id: str) -> tuple[dict, int, list[dict], list[dict]]:
    """What a turn starts from, in one read: (conversation, last message seq, prompt rows, user skills)."""

    def read(conn):
        row = _select_conversation(conn, conversation_id)
        if row is None:
            raise NotFound("Conversation not found")
        last_seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE conversation_id = ?",
                                (conversation_id,)).fetchone()[0]
        skills = conn.execute("SELECT * FROM skills ORDER BY created_at, rowid").fetchall()
        return (conversation_out(row), last_seq, _prompt_rows(conn, conversation_id),
                [row_to_dict(r, bools=("active", "builtin")) for r in skills])

    return await db.read(read)


async def history_tokens(db: Database, conversation_id: str) -> int:
    return await db.scalar(
        "SELECT COALESCE(SUM(token_count), 0) FROM chat_messages "
        "WHERE conversation_id = ? AND compacted = 0 AND status != 'error'", (conversation_id,))


def mark_compacted(conn: sqlite3.Connection, conversation_id: str, through_seq: int, *,
                   summary: str | None = None) -> None:
    """Flag every message up to `through_seq` as summarised; store `summary` unless it is None
    (then the stored summary stays as it is)."""
    conn.execute("UPDATE chat_messages SET compacted = 1 WHERE conversation_id = ? AND seq <= ? AND compacted = 0",
                 (conversation_id, through_seq))
    if summary is None:
        touch(conn, conversation_id)
    else:
        touch(conn, conversation_id, summary=summary)


# ---- the Stan session row ---------------------------------------------------------------------

async def update_json_setting(db: Database, key: str, change: Callable[[dict | None], dict | None]) -> dict | None:
    """Read the JSON object in settings row `key`, apply `change` and store its result, all in
    one transaction, so two concurrent changes never lose each other's writes. `change(current)`
    runs on the writer thread (plain Python, no I/O) and returns the new object, or None to
    leave the row as it is. Returns what the row holds afterwards."""

    def write(conn):
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        current = loads(row["value"], None) if row else None
        current = current if isinstance(current, dict) else None
        updated = change(current)
        if updated is None:
            return current
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?,?,?) ON CONFLICT(key) DO UPDATE "
                     "SET value = excluded.value, updated_at = excluded.updated_at", (key, json.dumps(updated), now_iso()))
        return updated

    return await db.write(write)


# ---- user skills ---------------------------------------------------------------------------

async def list_skills(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM skills ORDER BY created_at, rowid")
    return [row_to_dict(r, bools=("active", "builtin")) for r in rows]


async def get_skill(db: Database, skill_id: str) -> dict:
    row = await db.fetchone("SELECT * FROM skills WHERE id = ?", (skill_id,))
    if row is None:
        raise NotFound("Skill not found")
    return row_to_dict(row, bools=("active", "builtin"))


def _require_free_skill_name(conn: sqlite3.Connection, name: str, skill_id: str) -> None:
    """Inside the writing transaction, so two concurrent writes cannot both take a name."""
    if conn.execute("SELECT 1 FROM skills WHERE name = ? AND id != ?", (name, skill_id)).fetchone():
        raise Conflict(f"A skill named '{name}' already exists", code="SKILL_EXISTS")


async def create_skill(db: Database, fields: dict) -> dict:
    now, skill_id = now_iso(), fields.get("id") or new_id()

    def insert(conn):
        _require_free_skill_name(conn, fields["name"], skill_id)
        conn.execute(
            "INSERT INTO skills (id, name, category, description, instructions, active, builtin, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,0,?,?)",
            (skill_id, fields["name"], fields.get("category") or "custom", fields.get("description") or "",
             fields.get("instructions") or "", 1 if fields.get("active", True) else 0, now, now))
        return row_to_dict(conn.execute("SELECT * FROM skills WHERE id = ?", (skill_id,)).fetchone(),
                           bools=("active", "builtin"))

    return await db.write(insert)


async def update_skill(db: Database, skill_id: str, fields: dict) -> dict:
    changes = {k: v for k, v in fields.items() if k in ("name", "category", "description", "instructions", "active")}
    if "active" in changes:
        changes["active"] = 1 if changes["active"] else 0

    def update(conn):
        if conn.execute("SELECT 1 FROM skills WHERE id = ?", (skill_id,)).fetchone() is None:
            raise NotFound("Skill not found")
        if changes.get("name") is not None:
            _require_free_skill_name(conn, changes["name"], skill_id)
        sets = "".join(f"{k} = ?, " for k in changes)
        conn.execute(f"UPDATE skills SET {sets}updated_at = ? WHERE id = ?", (*changes.values(), now_iso(), skill_id))
        return row_to_dict(conn.execute("SELECT * FROM skills WHERE id = ?", (skill_id,)).fetchone(),
                           bools=("active", "builtin"))

    return await db.write(update)


async def delete_skill(db: Database, skill_id: str) -> None:
    def delete(conn):
        if conn.execute("DELETE FROM skills WHERE id = ?", (skill_id,)).rowcount == 0:
            raise NotFound("Skill not found")

    await db.write(delete)


# ---- entities for @-mentions and quick-access links -----------------------------------------
# type -> (table, label column, status column, description column, detail columns)
ENTITY_SOURCES = {
    "project": ("projects", "name", "status", "description", ("working_directory",)),
    "task": ("tasks", "title", "status", "description", ("project_id", "result")),
    "workflow": ("workflows", "name", "status", None, ("project_id", "definition")),
    "document": ("documents", "original_name", "status", "category", ("mime_type", "extracted_text")),
    "schedule": ("schedules", "name", "status", "prompt", ("cron_expression", "type")),
    "table": ("user_tables", "name", None, "description", ("row_count",)),
}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def search_entities(db: Database, q: str, limit: int) -> list[dict]:
    """Names/titles LIKE %q% (empty q: most recently updated), a fair share of `limit` per type."""
    per_type = max(2, limit // len(ENTITY_SOURCES))
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def read(conn):
        present, results = _tables(conn), []
        for entity_type, (table, label, status, description, _details) in ENTITY_SOURCES.items():
            if table not in present:
                continue
            columns = f"id, {label} AS label, {status or 'NULL'} AS status, {description or 'NULL'} AS description"
            where = f" WHERE {label} LIKE ? ESCAPE '\\'" if q else ""
            rows = conn.execute(f"SELECT {columns} FROM {table}{where} ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                                ((pattern,) if q else ()) + (per_type,)).fetchall()
            for row in rows:
                item = {"entityType": entity_type, "entityId": row["id"], "label": row["label"]}
                if row["status"] is not None:
                    item["status"] = row["status"]
                if row["description"]:
                    item["description"] = str(row["description"])[:120]
                results.append(item)
        return results[:limit]

    return await db.read(read)


async def entity_details(db: Database, entity_type: str, entity_id: str) -> dict | None:
    """One entity's label, status, description and detail columns, or None if it is unknown."""
    source = ENTITY_SOURCES.get(entity_type)
    if source is None:
        return None
    table, label, status, description, details = source

    def read(conn):
        if table not in _tables(conn):
            return None
        columns = ", ".join((f"{label} AS label", f"{status or 'NULL'} AS status",
                             f"{description or 'NULL'} AS description", *details))
        row = conn.execute(f"SELECT {columns} FROM {table} WHERE id = ?", (entity_id,)).fetchone()
        return None if row is None else row_to_dict(row)

    return await db.read(read)

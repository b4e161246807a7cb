"""Notifications: the inbox, and the permission-request queue that runs and chat turns wait on.

An unanswered `permission_required` row (response IS NULL) is a pending request. Every change
to the table advances `notification_clock` (triggers, m005), which the SSE streams use as ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound

ACTIONABLE = ("permission_required", "context_proposal", "context_proposal_batch")
LIST_LIMIT = 100
PENDING_LIMIT = 20
_COLUMNS = ("id, task_id, type, title, body, read, tool_name, tool_input, response, responded_at, "
            "created_at, conversation_id, expires_at")


def to_api(row) -> dict:
    """The catalog's Notification, plus `message` (the docs' name for body) and the extensions
    conversationId/expiresAt."""
    out = row_to_dict(row, bools=("read",))
    out["message"] = out["body"]
    return {k: out.get(k) for k in ("id", "taskId", "type", "title", "body", "message", "read", "toolName",
                                    "toolInput", "response", "respondedAt", "createdAt", "conversationId",
                                    "expiresAt")}


def insert(conn, *, type: str, title: str, body: str | None = None, task_id: str | None = None,
           conversation_id: str | None = None, tool_name: str | None = None, tool_input: dict | None = None,
           tool_call_id: str | None = None, expires_at: str | None = None) -> dict:
    """Insert inside the caller's transaction. After COMMIT publish NotificationCreated on the
    event bus so streams wake at once (the streams also re-check at every keepalive)."""
    notification_id = new_id()
    conn.execute(
        "INSERT INTO notifications (id, task_id, conversation_id, type, title, body, tool_name, tool_input, "
        "tool_call_id, expires_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (notification_id, task_id, conversation_id, type, title[:500], body, tool_name,
         canonical(tool_input) if tool_input is not None else None, tool_call_id, expires_at, now_iso()))
    return to_api(conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE id = ?", (notification_id,)).fetchone())


def create(db_or_conn, *, type: str, title: str, body: str | None = None, task_id: str | None = None,
           **fields):
    """One notification (budget alerts, heartbeat issues, ...). With a Database: a coroutine that
    writes it in its own transaction; with a connection: inserted in the caller's transaction."""
    if isinstance(db_or_conn, Database):
        return db_or_conn.write(lambda conn: insert(conn, type=type, title=title, body=body,
                                                    task_id=task_id, **fields))
    return insert(db_or_conn, type=type, title=title, body=body, task_id=task_id, **fields)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def task_finished_in(conn, task_id: str, status: str, text: str | None) -> dict | None:
    """The task_completed / task_failed alert of a run, in the transaction of its status."""
    row = conn.execute("SELECT title FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None or status not in ("completed", "failed"):
        return None
    return insert(conn, type=f"task_{status}", task_id=task_id,
                  title=f"Task {status}: {row['title']}", body=(text or "")[:500] or None)


# ---- the inbox ---------------------------------------------------------------------------

async def list_notifications(db: Database, *, unread: bool = False, type: str | None = None) -> list[dict]:
    sql, params = f"SELECT {_COLUMNS} FROM notifications WHERE 1=1", []
    if unread:
        sql += " AND read = 0"
    if type:
        sql += " AND type = ?"
        params.append(type)
    sql += f" ORDER BY created_at DESC, rowid DESC LIMIT {LIST_LIMIT}"
    return [to_api(r) for r in await db.fetchall(sql, params)]


async def count(db: Database, *, unread: bool = False, type: str | None = None) -> int:
    """As the original: with no filter the unread ones are counted."""
    sql, params = "SELECT COUNT(*) FROM notifications WHERE 1=1", []
    if unread or not type:
        sql += " AND read = 0"
    if type:
        sql += " AND type = ?"
        params.append(type)
    return await db.scalar(sql, params)


async def get(db: Database, notification_id: str) -> dict | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM notifications WHERE id = ?", (notification_id,))
    return None if row is None else to_api(row)


async def set_read(db: Database, notification_id: str, read: bool) -> dict:
    def write(conn):
        conn.execute("UPDATE notifications SET read = ? WHERE id = ? AND read != ?",
                     (int(read), notification_id, int(read)))
        row = conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE id = ?", (notification_id,)).fetchone()
        if row is None:
            raise NotFound("Not found")
        return to_api(row)

    return await db.write(write)


async def delete(db: Database, notification_id: str) -> dict | None:
    """Delete one; returns the row it was (None when it did not exist)."""

    def write(conn):
        row = conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE id = ?", (notification_id,)).fetchone()
        conn.execute("DELETE FROM notifications WHERE id = ?", (notification_id,))
        return None if row is None else to_api(row)

    return await db.write(write)


async def mark_all_read(db: Database) -> int:
    return await db.execute("UPDATE notifications SET read = 1 WHERE read = 0")


async def clock(db: Database) -> int:
    return await db.scalar("SELECT seq FROM notification_clock WHERE id = 1") or 0


async def changed_since(db: Database, seq: int, limit: int = 500) -> list[tuple[int, dict]]:
    """Notifications created or changed after `seq`, oldest change first, with their seq."""
    rows = await db.fetchall(f"SELECT seq, {_COLUMNS} FROM notifications WHERE seq > ? ORDER BY seq LIMIT ?",
                             (seq, limit))
    return [(r["seq"], to_api(r)) for r in rows]


# ---- pending approvals -------------------------------------------------------------------

async def pending_rows(db: Database, limit: int = PENDING_LIMIT) -> tuple[int, list[dict]]:
    """(clock, unanswered actionable rows newest first) read in one snapshot."""

    def read(conn):
        seq = conn.execute("SELECT seq FROM notification_clock WHERE id = 1").fetchone()[0]
        rows = conn.execute(
            "SELECT n.id, n.task_id, n.conversation_id, n.type, n.title, n.body, n.read, n.tool_name, "
            "n.tool_input, n.created_at, n.expires_at, t.title AS task_title, t.workflow_id, "
            "w.name AS workflow_name FROM notifications n LEFT JOIN tasks t ON t.id = n.task_id "
            # a workflow checkpoint has no task: its workflow is named in its input
            "LEFT JOIN workflows w ON w.id = COALESCE(t.workflow_id, CASE WHEN json_valid(n.tool_input) "
            "THEN json_extract(n.tool_input, '$.workflowId') END) "
            f"WHERE n.response IS NULL AND n.type IN ({','.join('?' * len(ACTIONABLE))}) "
            "ORDER BY n.created_at DESC, n.rowid DESC LIMIT ?", (*ACTIONABLE, limit)).fetchall()
        return seq, [row_to_dict(r, bools=("read",)) for r in rows]

    return await db.read(read)


# ---- permission requests -----------------------------------------------------------------

def open_request_in(conn, *, task_id: str | None, conversation_id: str | None, tool: str, args: dict,
                    title: str, body: str, tool_call_id: str | None, expires_at: str) -> tuple[dict, bool]:
    """The unanswered request of this run for the same tool and input, or a new one.
    Returns (notification, created)."""
    scope = "task_id = ?" if task_id else "conversation_id = ?"
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM notifications WHERE {scope} AND type = 'permission_required' "
        "AND response IS NULL AND tool_name = ? AND tool_input = ? ORDER BY created_at LIMIT 1",
        (task_id or conversation_id, tool, canonical(args))).fetchone()
    if row is not None:
        return to_api(row), False
    return insert(conn, type="permission_required", task_id=task_id, conversation_id=conversation_id,
                  title=title, body=body, tool_name=tool, tool_input=args, tool_call_id=tool_call_id,
                  expires_at=expires_at), True


async def open_request(db: Database, **fields) -> tuple[dict, bool]:
    return await db.write(lambda conn: open_request_in(conn, **fields))


async def answer(db: Database, notification_id: str, response: dict, *, task_id: str | None = None,
                 conversation_id: str | None = None,
                 on_allow_always: Callable[[object, dict], str | None] | None = None) -> dict:
    """Record a decision once, on a permission request only. `updatedInput` may only carry keys
    of the original input. `on_allow_always(conn, notification)` runs in the same transaction
    (it saves the pattern and returns it). Raises NotFound, Conflict (already answered) or Invalid."""

    def write(conn):
        row = conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE id = ? AND type = 'permission_required'",
                           (notification_id,)).fetchone()
        if row is None or (task_id and row["task_id"] != task_id) or (
                conversation_id and row["conversation_id"] != conversation_id):
            raise NotFound("Notification not found")
        if row["response"] is not None:
            raise Conflict("Already responded")
        updated = response.get("updatedInput")
        if updated is not None:
            original = loads(row["tool_input"], {})
            extra = set(updated) - set(original if isinstance(original, dict) else {})
            if extra:
                raise Invalid(f"updatedInput has keys not in the original tool input: {', '.join(sorted(extra))}")
        notification = to_api(row)
        if on_allow_always is not None:
            pattern = on_allow_always(conn, notification)
            if pattern:
                response["permissionPattern"] = pattern
        conn.execute("UPDATE notifications SET response = ?, responded_at = ?, read = 1 WHERE id = ?",
                     (dumps(response), now_iso(), notification_id))
        return to_api(conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE id = ?",
                                   (notification_id,)).fetchone())

    return await db.write(write)


def _close_in(conn, response: dict, where: str, params: list, keep_task_ids: set[str] = frozenset()) -> list[dict]:
    ids = [r["id"] for r in conn.execute(
        f"SELECT id, task_id FROM notifications WHERE response IS NULL AND type = 'permission_required' "
        f"AND {where}", params) if r["task_id"] not in keep_task_ids]
    now = now_iso()
    conn.executemany("UPDATE notifications SET response = ?, responded_at = ? WHERE id = ?",
                     [(dumps(response), now, nid) for nid in ids])
    return [to_api(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM notifications WHERE id IN ({','.join('?' * len(ids))})", ids)]


async def close_open(db: Database, response: dict, *, notification_id: str | None = None,
                     task_id: str | None = None) -> list[dict]:
    """Answer still-open requests with `response` (a timeout, a cancelled run): one request, or
    every open one of a task. Returns the rows it closed, answered."""
    where, params = ("id = ?", [notification_id]) if notification_id else ("task_id = ?", [task_id])
    return await db.write(lambda conn: _close_in(conn, response, where, params))


async def close_orphaned(db: Database, response: dict, keep_task_ids: set[str]) -> list[dict]:
    """Close open requests of conversations, and of tasks not in `keep_task_ids`."""
    return await db.write(lambda conn: _close_in(
        conn, response, "(conversation_id IS NOT NULL OR task_id IS NOT NULL)", [], keep_task_ids))


async def waiting_task_ids(db: Database) -> list[str]:
    """Tasks left `running` with an unanswered permission request (a restart keeps them)."""
    rows = await db.fetchall(
        "SELECT DISTINCT t.id FROM tasks t JOIN notifications n ON n.task_id = t.id "
        "WHERE t.status = 'running' AND n.type = 'permission_required' AND n.response IS NULL")
    return [r["id"] for r in rows]

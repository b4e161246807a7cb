"""agent_messages: handoffs of work from one profile to another.

Status: pending (waits for the operator) → accepted | rejected | expired; accepted →
in_progress once its task exists (`target_task_id`) → completed when that task completes.
`task_id` is the task that sent it; a task made from a handoff is found through
`target_task_id`, so the link reads both ways without a column on tasks.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound
from . import notifications as notification_store
from . import tasks as task_store

STATUSES = ("pending", "accepted", "in_progress", "completed", "rejected", "expired")
LIST_LIMIT = 100
_OUT = ("id", "fromProfileId", "toProfileId", "taskId", "targetTaskId", "subject", "body", "attachments",
        "priority", "status", "requiresApproval", "approvedBy", "parentMessageId", "chainDepth", "createdAt",
        "respondedAt", "expiresAt", "notificationId")


def to_api(row) -> dict:
    out = row_to_dict(row, bools=("requires_approval",))
    return {k: out.get(k) for k in _OUT}


def _select(conn, handoff_id: str):
    return conn.execute("SELECT * FROM agent_messages WHERE id = ?", (handoff_id,)).fetchone()


def insert_in(conn, fields: dict, *, max_depth: int, expires_at: str) -> dict:
    """A new handoff: `pending` with an `agent_message` inbox notification when it requires
    approval, else `accepted`. Invalid when its parent is unknown or the chain is too deep."""
    depth = 0
    if fields.get("parent_message_id"):
        parent = _select(conn, fields["parent_message_id"])
        if parent is None:
            raise Invalid(f"Parent handoff not found: {fields['parent_message_id']}")
        depth = parent["chain_depth"] + 1
    elif fields.get("task_id"):  # sent from a task that is itself a handoff's task: the chain goes on
        parent = conn.execute("SELECT chain_depth FROM agent_messages WHERE target_task_id = ?",
                              (fields["task_id"],)).fetchone()
        depth = parent["chain_depth"] + 1 if parent else 0
    if depth >= max_depth:
        raise Invalid(f"Handoff chain depth limit reached ({max_depth}): hand the result back to the user instead")
    if fields.get("task_id") and conn.execute("SELECT 1 FROM tasks WHERE id = ?", (fields["task_id"],)).fetchone() is None:
        raise Invalid(f"Source task not found: {fields['task_id']}")
    handoff_id, now = new_id(), now_iso()
    pending = bool(fields.get("requires_approval"))
    conn.execute(
        "INSERT INTO agent_messages (id, from_profile_id, to_profile_id, task_id, subject, body, attachments, "
        "priority, status, requires_approval, parent_message_id, chain_depth, created_at, expires_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (handoff_id, fields["from_profile_id"], fields["to_profile_id"], fields.get("task_id"), fields["subject"],
         fields["body"], dumps(fields.get("attachments")), fields.get("priority", 2),
         "pending" if pending else "accepted", int(pending), fields.get("parent_message_id"), depth, now,
         expires_at if pending else None))
    if pending:
        note = notification_store.insert(
            conn, type="agent_message", title=f"Handoff from {fields['from_profile_id']} to "
            f"{fields['to_profile_id']}: {fields['subject']}", body=fields["body"][:2000], task_id=fields.get("task_id"),
            tool_name="Handoff", tool_input={"handoffId": handoff_id, "fromProfileId": fields["from_profile_id"],
                                             "toProfileId": fields["to_profile_id"], "subject": fields["subject"]},
            expires_at=expires_at)
        conn.execute("UPDATE agent_messages SET notification_id = ? WHERE id = ?", (note["id"], handoff_id))
    return to_api(_select(conn, handoff_id))


async def create(db: Database, fields: dict, *, max_depth: int, expires_at: str) -> dict:
    return await db.write(lambda conn: insert_in(conn, fields, max_depth=max_depth, expires_at=expires_at))


async def get(db: Database, handoff_id: str) -> dict:
    row = await db.fetchone("SELECT * FROM agent_messages WHERE id = ?", (handoff_id,))
    if row is None:
        raise NotFound("Handoff not found")
    return to_api(row)


async def list_handoffs(db: Database, status: str | None = None, profile_id: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM agent_messages WHERE 1 = 1", []
    if status:
        sql += " AND status = ?"
        params.append(status)
    if profile_id:
        sql += " AND to_profile_id = ?"
        params.append(profile_id)
    rows = await db.fetchall(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, LIST_LIMIT))
    return [to_api(r) for r in rows]


def _answer_notification(conn, notification_id: str | None, response: dict) -> None:
    if notification_id:
        conn.execute("UPDATE notifications SET response = ?, responded_at = ?, read = 1 WHERE id = ? "
                     "AND response IS NULL", (dumps(response), now_iso(), notification_id))


async def decide(db: Database, handoff_id: str, action: str, approved_by: str) -> dict:
    """approve → accepted, reject → rejected; Conflict unless pending."""

    def write(conn):
        row = _select(conn, handoff_id)
        if row is None:
            raise NotFound("Handoff not found")
        if row["status"] != "pending":
            raise Conflict(f"Handoff is not pending (status: {row['status']})")
        status = "accepted" if action == "approve" else "rejected"
        conn.execute("UPDATE agent_messages SET status = ?, approved_by = ?, responded_at = ? WHERE id = ?",
                     (status, approved_by, now_iso(), handoff_id))
        _answer_notification(conn, row["notification_id"],
                             {"behavior": "allow" if action == "approve" else "deny", "action": action})
        return to_api(_select(conn, handoff_id))

    return await db.write(write)


async def expire(db: Database, now: str) -> list[dict]:
    """Pending handoffs past their expiry become `expired` (their notification answered)."""
    if not await db.scalar("SELECT 1 FROM agent_messages WHERE status = 'pending' AND expires_at < ? LIMIT 1",
                           (now,)):
        return []  # the common case: no write transaction

    def write(conn):
        rows = conn.execute("SELECT * FROM agent_messages WHERE status = 'pending' AND expires_at IS NOT NULL "
                            "AND expires_at < ?", (now,)).fetchall()
        for row in rows:
            conn.execute("UPDATE agent_messages SET status = 'expired', responded_at = ? WHERE id = ?",
                         (now, row["id"]))
            _answer_notification(conn, row["notification_id"], {"behavior": "deny", "message": "expired"})
        return [to_api(_select(conn, r["id"])) for r in rows]

    return await db.write(write)


async def start_accepted(db: Database) -> list[tuple[dict, dict]]:
    """Every accepted handoff becomes a queued task of its recipient (in its sender's project),
    and `in_progress`; one transaction. Returns (handoff, task) pairs to execute."""
    if not await db.scalar("SELECT 1 FROM agent_messages WHERE status = 'accepted' AND target_task_id IS NULL "
                           "LIMIT 1"):
        return []

    def write(conn):
        started = []
        for row in conn.execute("SELECT * FROM agent_messages WHERE status = 'accepted' AND target_task_id IS NULL "
                                "ORDER BY priority, created_at").fetchall():
            source = conn.execute("SELECT project_id FROM tasks WHERE id = ?", (row["task_id"],)).fetchone() \
                if row["task_id"] else None
            task = task_store.insert_task(conn, {
                "title": f"Handoff: {row['subject']}"[:200],
                "description": f"Handed over by the {row['from_profile_id']} agent.\n\n{row['body']}",
                "status": "queued", "agent_profile": row["to_profile_id"], "priority": row["priority"],
                "project_id": source["project_id"] if source else None, "parent_task_id": row["task_id"],
                "source_type": "manual"})
            conn.execute("UPDATE agent_messages SET status = 'in_progress', target_task_id = ? WHERE id = ?",
                         (task["id"], row["id"]))
            started.append((to_api(_select(conn, row["id"])), task))
        return started

    return await db.write(write)


async def task_finished(db: Database, task_id: str) -> None:
    """The task a handoff became has completed: the handoff is completed."""
    if not await db.scalar("SELECT 1 FROM agent_messages WHERE target_task_id = ? AND status = 'in_progress'",
                           (task_id,)):
        return
    await db.execute("UPDATE agent_messages SET status = 'completed', responded_at = COALESCE(responded_at, ?) "
                     "WHERE target_task_id = ? AND status = 'in_progress'", (now_iso(), task_id))


async def for_task(db: Database, task_id: str) -> dict | None:
    """The handoff a task was made from, if any."""
    row = await db.fetchone("SELECT * FROM agent_messages WHERE target_task_id = ?", (task_id,))
    return to_api(row) if row else None

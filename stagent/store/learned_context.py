"""learned_context: a profile's versioned behavioural context.

Every row has the next version of its profile. `proposal` rows wait for a decision (`status`
pending → approved | rejected) and carry their inbox notification; `approved`, `rollback` and
`summarization` rows each hold the whole context from then on (the latest of them is the
active context); `rejected` rows record a refusal.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound
from . import notifications as notification_store

ACTIVE_TYPES = ("approved", "rollback", "summarization")
_OUT = ("id", "profileId", "version", "content", "diff", "changeType", "sourceTaskId",
        "proposalNotificationId", "proposedAdditions", "approvedBy", "createdAt", "status")


def to_api(row) -> dict:
    out = row_to_dict(row)
    return {k: out.get(k) for k in _OUT}


def _next_version(conn, profile_id: str) -> int:
    return conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM learned_context WHERE profile_id = ?",
                        (profile_id,)).fetchone()[0]


def _current_in(conn, profile_id: str) -> str:
    row = conn.execute(
        f"SELECT content FROM learned_context WHERE profile_id = ? AND change_type IN "
        f"({','.join('?' * len(ACTIVE_TYPES))}) ORDER BY version DESC LIMIT 1", (profile_id, *ACTIVE_TYPES)).fetchone()
    return (row["content"] or "") if row else ""


def _insert(conn, profile_id: str, change_type: str, **fields) -> dict:
    row_id = new_id()
    conn.execute(
        "INSERT INTO learned_context (id, profile_id, version, content, diff, change_type, source_task_id, "
        "proposal_notification_id, proposed_additions, approved_by, status, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (row_id, profile_id, _next_version(conn, profile_id), fields.get("content"), fields.get("diff"),
         change_type, fields.get("source_task_id"), fields.get("notification_id"), fields.get("additions"),
         fields.get("approved_by"), fields.get("status"), now_iso()))
    return to_api(conn.execute("SELECT * FROM learned_context WHERE id = ?", (row_id,)).fetchone())


async def history(db: Database, profile_id: str) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM learned_context WHERE profile_id = ? ORDER BY version DESC",
                             (profile_id,))
    return [to_api(r) for r in rows]


async def current(db: Database, profile_id: str) -> str:
    return await db.read(lambda conn: _current_in(conn, profile_id))


async def get(db: Database, row_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM learned_context WHERE id = ?", (row_id,))
    return to_api(row) if row else None


async def by_notification(db: Database, notification_id: str) -> dict | None:
    row = await db.fetchone("SELECT * FROM learned_context WHERE proposal_notification_id = ? "
                            "AND change_type = 'proposal'", (notification_id,))
    return to_api(row) if row else None


async def propose(db: Database, profile_id: str, additions: str, *, kind: str = "additions",
                  source_task_id: str | None = None) -> tuple[dict, dict]:
    """A pending proposal and its `context_proposal` inbox notification, in one transaction.
    `kind` summarization: approving it replaces the whole context with `additions`."""

    def write(conn):
        title = ("Summarise learned context" if kind == "summarization" else "Learned context proposal") \
            + f" for {profile_id}"
        notification = notification_store.insert(
            conn, type="context_proposal", title=title, body=additions[:2000], task_id=source_task_id,
            tool_name="LearnedContext", tool_input={"profileId": profile_id, "additions": additions, "kind": kind})
        row = _insert(conn, profile_id, "proposal", additions=additions, source_task_id=source_task_id,
                      notification_id=notification["id"], status="pending",
                      diff="summarization" if kind == "summarization" else None)
        # the notification names its proposal (the original's toolInput.learnedContextId)
        conn.execute("UPDATE notifications SET tool_input = ? WHERE id = ?", (notification_store.canonical(
            {"profileId": profile_id, "additions": additions, "kind": kind, "learnedContextId": row["id"]}),
            notification["id"]))
        return row, notification

    return await db.write(write)


def _diff(before: str, after: str) -> str:
    old = set(before.splitlines())
    return "\n".join(f"+{line}" for line in after.splitlines() if line and line not in old)


def decide_in(conn, proposal_id: str, action: str, *, edited: str | None = None,
              approved_by: str = "user") -> dict:
    """Approve (optionally edited) or reject one pending proposal; answers its notification.
    NotFound for an unknown proposal, Conflict when it was already decided."""
    row = conn.execute("SELECT * FROM learned_context WHERE id = ? AND change_type = 'proposal'",
                       (proposal_id,)).fetchone()
    if row is None:
        raise NotFound(f"Proposal not found: {proposal_id}")
    if row["status"] != "pending":
        raise Conflict(f"Proposal {proposal_id} was already {row['status']}")
    profile_id, before = row["profile_id"], _current_in(conn, row["profile_id"])
    additions = (edited if edited is not None else row["proposed_additions"] or "").strip()
    if action == "approve":
        if row["diff"] == "summarization":
            content, change = additions, "summarization"
        else:
            content, change = (f"{before}\n{additions}" if before else additions), "approved"
        result = _insert(conn, profile_id, change, content=content, diff=_diff(before, content),
                         additions=additions, source_task_id=row["source_task_id"],
                         notification_id=row["proposal_notification_id"], approved_by=approved_by)
    else:
        result = _insert(conn, profile_id, "rejected", content=before, additions=row["proposed_additions"],
                         source_task_id=row["source_task_id"], notification_id=row["proposal_notification_id"],
                         approved_by=approved_by)
    status = "approved" if action == "approve" else "rejected"
    conn.execute("UPDATE learned_context SET status = ? WHERE id = ?", (status, proposal_id))
    if row["proposal_notification_id"]:
        conn.execute("UPDATE notifications SET response = ?, responded_at = ?, read = 1 WHERE id = ? "
                     "AND response IS NULL", (dumps({"behavior": "allow" if action == "approve" else "deny",
                                                     "action": action}), now_iso(), row["proposal_notification_id"]))
    return result


async def decide_many(db: Database, proposal_ids: list[str], action: str, *, edited: str | None = None,
                      approved_by: str = "user") -> list[dict]:
    """decide_in for each id, all or nothing."""
    return await db.write(lambda conn: [decide_in(conn, pid, action, edited=edited, approved_by=approved_by)
                                        for pid in dict.fromkeys(proposal_ids)])


async def add_direct(db: Database, profile_id: str, additions: str, approved_by: str = "user") -> dict:
    """The operator's own addition: approved at once."""

    def write(conn):
        before = _current_in(conn, profile_id)
        content = f"{before}\n{additions.strip()}" if before else additions.strip()
        return _insert(conn, profile_id, "approved", content=content, diff=_diff(before, content),
                       additions=additions, approved_by=approved_by)

    return await db.write(write)


async def rollback(db: Database, profile_id: str, target_version: int) -> dict:
    """A new `rollback` row holding the context as it was at `target_version`."""

    def write(conn):
        row = conn.execute("SELECT * FROM learned_context WHERE profile_id = ? AND version = ?",
                           (profile_id, target_version)).fetchone()
        if row is None:
            raise NotFound(f"Version {target_version} not found")
        if row["change_type"] not in (*ACTIVE_TYPES, "rejected"):
            raise Invalid(f"Version {target_version} is a {row['change_type']}, not a context version")
        before = _current_in(conn, profile_id)
        return _insert(conn, profile_id, "rollback", content=row["content"] or "",
                       diff=_diff(before, row["content"] or ""), approved_by="user")

    return await db.write(write)


async def pending_summarization(db: Database, profile_id: str) -> bool:
    return bool(await db.scalar("SELECT 1 FROM learned_context WHERE profile_id = ? AND change_type = 'proposal' "
                                "AND status = 'pending' AND diff = 'summarization'", (profile_id,)))

"""Lars actions: what the model proposed, and what became of it.

States: SUGGESTED → PENDING_APPROVAL → EXECUTING → EXECUTED | REJECTED | FAILED (with
autoApprove, SUGGESTED → EXECUTING). Every move is one conditional UPDATE, so of two
concurrent executes exactly one wins the claim; the other sees INVALID_ACTION_STATUS.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Invalid, NotFound

SUGGESTED, PENDING_APPROVAL, EXECUTING = "SUGGESTED", "PENDING_APPROVAL", "EXECUTING"
EXECUTED, REJECTED, FAILED = "EXECUTED", "REJECTED", "FAILED"
STATUSES = (SUGGESTED, PENDING_APPROVAL, EXECUTING, EXECUTED, REJECTED, FAILED)
LIST_LIMIT = 100


def action_out(row) -> dict:
    action = row_to_dict(row)
    action["workspaceId"] = action.pop("workspace")
    action["params"] = loads(action["params"], {})
    action["result"] = loads(action["result"], None)
    return action


def not_found() -> NotFound:
    return NotFound("Action not found or unauthorized", code="ACTION_NOT_FOUND")


def invalid_status(status: str) -> Invalid:
    return Invalid(f"Action cannot be executed: its status is {status}; only SUGGESTED actions can be executed",
                   code="INVALID_ACTION_STATUS")


def _select(conn: sqlite3.Connection, action_id: str):
    return conn.execute("SELECT * FROM lars_actions WHERE id = ?", (action_id,)).fetchone()


async def insert(db: Database, *, workspace: str, conversation_id: str | None, type: str, title: str,
                 description: str, params: dict, risk_level: str) -> dict:
    now = now_iso()
    values = {"id": new_id(), "workspace": workspace, "conversation_id": conversation_id, "type": type,
              "title": title, "description": description, "params": dumps(params), "risk_level": risk_level,
              "status": SUGGESTED, "created_at": now, "updated_at": now}

    def write(conn):
        conn.execute(f"INSERT INTO lars_actions ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     tuple(values.values()))
        return action_out(_select(conn, values["id"]))

    return await db.write(write)


async def get(db: Database, workspace: str, action_id: str) -> dict:
    row = await db.read(lambda conn: _select(conn, action_id))
    if row is None or row["workspace"] != workspace:
        raise not_found()
    return action_out(row)


async def find(db: Database, action_id: str) -> dict | None:
    row = await db.read(lambda conn: _select(conn, action_id))
    return None if row is None else action_out(row)


async def list_actions(db: Database, workspace: str, *, status: str | None = None,
                       conversation_id: str | None = None, limit: int = LIST_LIMIT) -> list[dict]:
    """Newest first."""
    sql, params = "SELECT * FROM lars_actions WHERE workspace = ?", [workspace]
    if status:
        sql += " AND status = ?"
        params.append(status)
    if conversation_id:
        sql += " AND conversation_id = ?"
        params.append(conversation_id)
    sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
    params.append(limit)
    return [action_out(r) for r in await db.fetchall(sql, params)]


def _move(conn: sqlite3.Connection, action_id: str, from_status: str, to_status: str, **fields) -> bool:
    sets = "".join(f", {k} = ?" for k in fields)
    return conn.execute(f"UPDATE lars_actions SET status = ?, updated_at = ?{sets} WHERE id = ? AND status = ?",
                        (to_status, now_iso(), *fields.values(), action_id, from_status)).rowcount == 1


def _claim(conn: sqlite3.Connection, workspace: str, action_id: str, to_status: str, risk_level: str) -> dict:
    row = _select(conn, action_id)
    if row is None or row["workspace"] != workspace:
        raise not_found()
    if not _move(conn, action_id, SUGGESTED, to_status, risk_level=risk_level):
        raise invalid_status(row["status"])
    return action_out(_select(conn, action_id))


async def claim_for_execution(db: Database, workspace: str, action_id: str, risk_level: str) -> dict:
    """SUGGESTED → EXECUTING, or INVALID_ACTION_STATUS."""
    return await db.write(lambda conn: _claim(conn, workspace, action_id, EXECUTING, risk_level))


async def claim_for_approval(db: Database, workspace: str, action_id: str, risk_level: str,
                             open_request: Callable[[sqlite3.Connection, dict], dict]) -> tuple[dict, dict]:
    """SUGGESTED → PENDING_APPROVAL and its approval request (`open_request(conn, action)`
    inserts the notification) in one transaction. Returns (action, notification)."""

    def write(conn):
        action = _claim(conn, workspace, action_id, PENDING_APPROVAL, risk_level)
        notification = open_request(conn, action)
        conn.execute("UPDATE lars_actions SET approval_id = ? WHERE id = ?", (notification["id"], action_id))
        return action_out(_select(conn, action_id)), notification

    return await db.write(write)


async def start_approved(db: Database, action_id: str, params: dict, risk_level: str) -> bool:
    """PENDING_APPROVAL → EXECUTING with the params the approver allowed (maybe edited); False
    when the action is not waiting any more (or gone)."""
    return await db.write(lambda conn: _move(conn, action_id, PENDING_APPROVAL, EXECUTING, params=dumps(params),
                                             risk_level=risk_level))


async def finish(db: Database, action_id: str, from_status: str, to_status: str, *,
                 result: dict | None = None, error: str | None = None) -> dict | None:
    """EXECUTING → EXECUTED | FAILED, or PENDING_APPROVAL → REJECTED. None if it moved meanwhile."""

    def write(conn):
        fields = {"result": dumps(result), "error": error}
        if to_status in (EXECUTED, FAILED):
            fields["executed_at"] = now_iso()
        if not _move(conn, action_id, from_status, to_status, **fields):
            return None
        return action_out(_select(conn, action_id))

    return await db.write(write)


async def pending_approval(db: Database) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM lars_actions WHERE status = ? ORDER BY created_at", (PENDING_APPROVAL,))
    return [action_out(r) for r in rows]


async def fail_interrupted(db: Database, message: str) -> int:
    """On start: an action a crash cut off while it ran is FAILED (its effect may be partial)."""
    return await db.execute(
        "UPDATE lars_actions SET status = ?, error = ?, updated_at = ?, executed_at = ? WHERE status = ?",
        (FAILED, message, now_iso(), now_iso(), EXECUTING))


# ---- the workspace of Lars conversations ----------------------------------------------------

async def bind_conversation(db: Database, conversation_id: str, workspace: str) -> None:
    await db.execute("INSERT INTO lars_conversations (conversation_id, workspace) VALUES (?, ?)",
                     (conversation_id, workspace))


async def conversation_workspace(db: Database, conversation_id: str) -> str | None:
    """The workspace of a Lars conversation; None for an unknown id or another surface's conversation."""
    return await db.scalar("SELECT workspace FROM lars_conversations WHERE conversation_id = ?", (conversation_id,))

"""Notifications: the permission-request queue that task runs and the respond route share."""

from __future__ import annotations

import json

from ..db import Database
from ..db.rows import dumps, now_iso
from ..errors import Conflict, Invalid, NotFound


async def respond_permission(db: Database, task_id: str, answer: dict) -> None:
    """Record an allow/deny answer once; updatedInput may only carry keys of the original input."""

    def write(conn):
        row = conn.execute("SELECT * FROM notifications WHERE id = ? AND task_id = ?",
                           (answer["notification_id"], task_id)).fetchone()
        if row is None:
            raise NotFound("Notification not found")
        if row["responded_at"] is not None:
            raise Conflict("Already responded")
        updated = answer.get("updated_input")
        if updated is not None:
            original = json.loads(row["tool_input"] or "{}")
            extra = set(updated) - set(original if isinstance(original, dict) else {})
            if extra:
                raise Invalid(f"updatedInput has keys not in the original tool input: {', '.join(sorted(extra))}")
        response = {"behavior": answer["behavior"]}
        for key, wire in (("message", "message"), ("updated_input", "updatedInput"),
                          ("always_allow", "alwaysAllow"), ("permission_pattern", "permissionPattern")):
            if answer.get(key) is not None:
                response[wire] = answer[key]
        conn.execute("UPDATE notifications SET response = ?, responded_at = ?, read = 1 WHERE id = ?",
                     (dumps(response), now_iso(), row["id"]))

    await db.write(write)

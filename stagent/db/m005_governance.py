"""Migration m005_governance: what permission requests and the notification streams need.

- `conversation_id`: a chat turn's request (no task); `tool_call_id`: the model's call it
  pauses; `expires_at`: when an unanswered request times out to deny (survives a restart).
- `seq` and `notification_clock`: every insert, change and delete of a notification advances
  one clock (triggers, so rows written by any module count); a row carries the clock value of
  its last change. The notification streams use it as their SSE id.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m005_governance(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        ALTER TABLE notifications ADD COLUMN conversation_id TEXT
            REFERENCES conversations(id) ON DELETE CASCADE;
        ALTER TABLE notifications ADD COLUMN tool_call_id TEXT;
        ALTER TABLE notifications ADD COLUMN expires_at TEXT;
        ALTER TABLE notifications ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX notifications_created ON notifications(created_at);
        CREATE INDEX notifications_seq ON notifications(seq);
        CREATE INDEX notifications_open ON notifications(type, created_at) WHERE response IS NULL;
        CREATE INDEX notifications_conversation ON notifications(conversation_id);

        CREATE TABLE notification_clock (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL
        );
        INSERT INTO notification_clock (id, seq) VALUES (1, 0);

        CREATE TRIGGER notifications_inserted AFTER INSERT ON notifications BEGIN
            UPDATE notification_clock SET seq = seq + 1 WHERE id = 1;
            UPDATE notifications SET seq = (SELECT seq FROM notification_clock WHERE id = 1)
                WHERE rowid = NEW.rowid;
        END;
        CREATE TRIGGER notifications_changed
            AFTER UPDATE OF read, response, responded_at, title, body ON notifications BEGIN
            UPDATE notification_clock SET seq = seq + 1 WHERE id = 1;
            UPDATE notifications SET seq = (SELECT seq FROM notification_clock WHERE id = 1)
                WHERE rowid = NEW.rowid;
        END;
        CREATE TRIGGER notifications_deleted AFTER DELETE ON notifications BEGIN
            UPDATE notification_clock SET seq = seq + 1 WHERE id = 1;
        END;
        """,
    )

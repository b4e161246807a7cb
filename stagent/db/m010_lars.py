"""Migration m010: Lars clients, suggested actions, and the workspace of Lars conversations.

A workspace is a project id or `default` (docs/decisions/015-lars.md). Rows carry it as plain
text, since `default` is no project; deleting a project deletes its workspace's Lars data in
the same transaction (trigger), and answers its open approval requests (deny), so nothing is
left behind to reappear elsewhere or to wait in the inbox.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m010_lars(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE clients (
            id TEXT PRIMARY KEY,
            workspace TEXT NOT NULL,
            name TEXT NOT NULL,
            domain TEXT,
            health_score INTEGER CHECK (health_score BETWEEN 0 AND 100),
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'at_risk', 'churned', 'onboarding')),
            owner TEXT,
            notes TEXT,
            last_contact_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX clients_workspace_name ON clients(workspace, name COLLATE NOCASE);
        CREATE UNIQUE INDEX clients_workspace_domain ON clients(workspace, domain COLLATE NOCASE)
            WHERE domain IS NOT NULL;

        -- status: SUGGESTED -> PENDING_APPROVAL -> EXECUTING -> EXECUTED | REJECTED | FAILED
        -- (SUGGESTED -> EXECUTING directly with autoApprove). approval_id is the
        -- permission_required notification; kept as text so the history survives its deletion.
        CREATE TABLE lars_actions (
            id TEXT PRIMARY KEY,
            workspace TEXT NOT NULL,
            conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            type TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL,
            risk_level TEXT NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
            status TEXT NOT NULL DEFAULT 'SUGGESTED',
            approval_id TEXT,
            result TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            executed_at TEXT
        );
        CREATE INDEX lars_actions_workspace ON lars_actions(workspace, created_at);
        CREATE INDEX lars_actions_live ON lars_actions(status)
            WHERE status IN ('PENDING_APPROVAL', 'EXECUTING');

        CREATE TABLE lars_conversations (
            conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
            workspace TEXT NOT NULL
        );
        CREATE INDEX lars_conversations_workspace ON lars_conversations(workspace);

        -- A deleted workspace's approval requests leave the pending approvals answered (deny):
        -- there is no action left to approve.
        CREATE TRIGGER lars_workspace_deleted AFTER DELETE ON projects BEGIN
            UPDATE notifications
                SET response = '{"behavior": "deny", "message": "The workspace was deleted"}',
                    responded_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), read = 1
                WHERE response IS NULL AND type = 'permission_required' AND id IN
                    (SELECT approval_id FROM lars_actions WHERE workspace = OLD.id AND approval_id IS NOT NULL);
            DELETE FROM clients WHERE workspace = OLD.id;
            DELETE FROM lars_actions WHERE workspace = OLD.id;
            DELETE FROM conversations WHERE id IN
                (SELECT conversation_id FROM lars_conversations WHERE workspace = OLD.id);
        END;
        """,
    )

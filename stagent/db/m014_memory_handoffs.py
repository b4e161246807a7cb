"""Migration m014: `agent_memory` (a profile's episodic memories), `learned_context` (a
profile's versioned behavioural context: proposals, approvals, rejections, rollbacks,
summarisations) and `agent_messages` (handoffs between profiles; `target_task_id` links a
handoff to the task it became, `task_id` to the task that sent it)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m014_memory_handoffs(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE agent_memory (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL,
            category TEXT NOT NULL,
            content TEXT NOT NULL,
            confidence INTEGER NOT NULL DEFAULT 700,
            source_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            last_accessed_at TEXT,
            access_count INTEGER NOT NULL DEFAULT 0,
            decay_rate INTEGER NOT NULL DEFAULT 10,
            status TEXT NOT NULL DEFAULT 'active',
            decayed_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX agent_memory_profile ON agent_memory(profile_id, status, confidence DESC);

        CREATE TABLE learned_context (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            profile_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            content TEXT,
            diff TEXT,
            change_type TEXT NOT NULL,
            source_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            proposal_notification_id TEXT,
            proposed_additions TEXT,
            approved_by TEXT,
            status TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX learned_context_profile ON learned_context(profile_id, version);

        CREATE TABLE agent_messages (
            id TEXT PRIMARY KEY,
            from_profile_id TEXT NOT NULL,
            to_profile_id TEXT NOT NULL,
            task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            target_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            attachments TEXT,
            priority INTEGER NOT NULL DEFAULT 2,
            status TEXT NOT NULL DEFAULT 'pending',
            requires_approval INTEGER NOT NULL DEFAULT 0,
            approved_by TEXT,
            parent_message_id TEXT REFERENCES agent_messages(id) ON DELETE SET NULL,
            chain_depth INTEGER NOT NULL DEFAULT 0,
            notification_id TEXT,
            created_at TEXT NOT NULL,
            responded_at TEXT,
            expires_at TEXT
        );
        CREATE INDEX agent_messages_status ON agent_messages(status, created_at);
        CREATE INDEX agent_messages_target ON agent_messages(target_task_id);
        """,
    )

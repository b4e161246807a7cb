"""Migration m004: conversations and their messages (Stagent chat, Stan, Lars), skills, workflows.

One `conversations` table serves every chat surface; `mode` says which (`chat` for Stagent
chat, `workflows` for Stan). Messages are stored as the model saw them (user, assistant with
tool calls, tool results), so a later turn replays history exactly. Compaction never deletes:
it stores a summary on the conversation and flags the summarised messages `compacted`.
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m004_conversations(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE SET NULL,
            title TEXT,
            runtime_id TEXT,
            model_id TEXT,
            status TEXT NOT NULL DEFAULT 'active',
            session_id TEXT,
            context_scope TEXT,
            mode TEXT NOT NULL DEFAULT 'chat',
            owner TEXT NOT NULL DEFAULT 'local',
            personality TEXT,
            active_skills TEXT NOT NULL DEFAULT '[]',
            summary TEXT,
            summary_tokens INTEGER NOT NULL DEFAULT 0,
            compacted_message_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX conversations_recent ON conversations(owner, mode, updated_at);

        -- seq orders the messages (and numbers the SSE events of a turn); AUTOINCREMENT so a
        -- deleted message's seq is never reused. token_count is the message's own count,
        -- cached so context stats are a SUM, not a re-tokenisation of the history.
        CREATE TABLE chat_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            metadata TEXT,
            status TEXT NOT NULL DEFAULT 'complete',
            tool_calls TEXT,
            tool_call_id TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            token_count INTEGER NOT NULL DEFAULT 0,
            model TEXT,
            source TEXT,
            compacted INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX chat_messages_conversation ON chat_messages(conversation_id, seq);

        -- User-defined skills; the built-in ones live in code (engine/conversation.py).
        CREATE TABLE skills (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            category TEXT NOT NULL DEFAULT 'custom',
            description TEXT NOT NULL DEFAULT '',
            instructions TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            builtin INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- The catalog's workflow record (§2.3/§4.1); definition is WorkflowDefinition JSON.
        CREATE TABLE workflows (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            definition TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft',
            run_number INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX workflows_project ON workflows(project_id);
        """,
    )

"""Numbered schema migrations, recorded by name; each runs in its own transaction.

Never edit a shipped migration: add the next one. A database that lists a migration this
code does not know was written by a newer stagent, and the daemon refuses to start on it.
"""

from __future__ import annotations

import sqlite3

from ..db.rows import now_iso
from .m002_scheduler import m002_scheduler
from .m003_channels import m003_channels
from .m004_conversations import m004_conversations
from .m005_governance import m005_governance
from .m006_heartbeat import m006_heartbeat
from .m007_usage_ledger import m007_usage_ledger
from .m008_governance_fixes import m008_governance_fixes
from .m009_workflows import m009_workflows
from .m010_lars import m010_lars
from .m011_workflow_triggers import m011_workflow_triggers
from .m012_task_budget import m012_task_budget
from .m013_file_changes import m013_file_changes
from .m014_memory_handoffs import m014_memory_handoffs
from .m015_profiles import m015_profiles
from .m016_documents import m016_documents
from .m017_tables import m017_tables
from .m019_environment import m019_environment
from .m020_conversation_profile import m020_conversation_profile
from .migrations_lib import run_script


class SchemaTooNew(RuntimeError):
    pass


def m001_initial(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            working_directory TEXT,
            status TEXT NOT NULL DEFAULT 'active',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            workflow_id TEXT,
            schedule_id TEXT,
            title TEXT NOT NULL,
            description TEXT,
            status TEXT NOT NULL DEFAULT 'planned',
            assigned_agent TEXT,
            agent_profile TEXT,
            model_id TEXT,
            priority INTEGER NOT NULL DEFAULT 2,
            result TEXT,
            session_id TEXT,
            resume_count INTEGER NOT NULL DEFAULT 0,
            source_type TEXT,
            workflow_run_number INTEGER,
            parent_task_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tasks_status ON tasks(status);
        CREATE INDEX tasks_project ON tasks(project_id);
        CREATE INDEX tasks_workflow ON tasks(workflow_id, workflow_run_number);
        CREATE INDEX tasks_schedule ON tasks(schedule_id);

        -- seq is the monotonic cursor (SSE id); AUTOINCREMENT so it is never reused.
        CREATE TABLE agent_logs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            task_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
            agent_type TEXT NOT NULL,
            event TEXT NOT NULL,
            payload TEXT,
            timestamp TEXT NOT NULL
        );
        CREATE INDEX agent_logs_task ON agent_logs(task_id, seq);

        CREATE TABLE notifications (
            id TEXT PRIMARY KEY,
            task_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT,
            read INTEGER NOT NULL DEFAULT 0,
            tool_name TEXT,
            tool_input TEXT,
            response TEXT,
            responded_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX notifications_task ON notifications(task_id);

        CREATE TABLE usage_ledger (
            id TEXT PRIMARY KEY,
            task_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
            workflow_id TEXT,
            schedule_id TEXT,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            activity_type TEXT NOT NULL,
            runtime_id TEXT,
            provider_id TEXT,
            model_id TEXT,
            status TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens INTEGER NOT NULL DEFAULT 0,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            pricing_version TEXT,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX usage_task ON usage_ledger(task_id);

        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            filename TEXT NOT NULL,
            original_name TEXT NOT NULL,
            mime_type TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            storage_path TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            direction TEXT NOT NULL DEFAULT 'input',
            category TEXT,
            status TEXT NOT NULL DEFAULT 'uploaded',
            extracted_text TEXT,
            processed_path TEXT,
            processing_error TEXT,
            source TEXT NOT NULL DEFAULT 'upload',
            conversation_id TEXT,
            message_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE project_document_defaults (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            UNIQUE (project_id, document_id)
        );

        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- The conversation of a task's agent run, so resume continues where it stopped.
        CREATE TABLE agent_sessions (
            id TEXT PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            messages TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX agent_sessions_task ON agent_sessions(task_id);

        -- API keys and browser sessions; only the SHA-256 of a secret is stored.
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'key',
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        """
    )


# One module per later migration, so work on separate domains never edits the same file.
MIGRATIONS = [m001_initial, m002_scheduler, m003_channels, m004_conversations, m005_governance,
              m006_heartbeat, m007_usage_ledger, m008_governance_fixes, m009_workflows, m010_lars,
              m011_workflow_triggers, m012_task_budget, m013_file_changes, m014_memory_handoffs,
              m015_profiles, m016_documents, m017_tables, m019_environment, m020_conversation_profile]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations; return the names applied. Runs on the writer connection."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    known = {m.__name__ for m in MIGRATIONS}
    unknown = sorted(applied - known)
    if unknown:
        raise SchemaTooNew(
            f"The database was written by a newer stagent (unknown migrations: {', '.join(unknown)}). "
            "Upgrade stagent, or start it with another --data-dir."
        )
    done = []
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration(conn)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, now_iso()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done.append(migration.__name__)
    return done

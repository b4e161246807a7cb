"""Migration m019: the Environment domain. `environment_scans` (one scan of the user's Claude
Code / Codex setup and a project's), `environment_artifacts` (what a scan found; secrets are
masked before a row is written, so the database never holds a config's tokens),
`environment_checkpoints` (git tag and/or copies of config files taken before a change),
`environment_sync_ops` (each file a sync wrote, under its pre-sync checkpoint) and
`environment_templates` (a scan's manifest kept under a name)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m019_environment(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE environment_scans (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE SET NULL,
            scan_path TEXT NOT NULL,
            home_path TEXT NOT NULL,
            persona TEXT NOT NULL DEFAULT '[]',
            scan_status TEXT NOT NULL DEFAULT 'running',
            artifact_count INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            errors TEXT NOT NULL DEFAULT '[]',
            health TEXT,
            scanned_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX environment_scans_latest ON environment_scans(project_id, scanned_at);

        CREATE TABLE environment_artifacts (
            id TEXT PRIMARY KEY,
            scan_id TEXT NOT NULL REFERENCES environment_scans(id) ON DELETE CASCADE,
            tool TEXT NOT NULL,
            category TEXT NOT NULL,
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            rel_path TEXT NOT NULL,
            abs_path TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            preview TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            size_bytes INTEGER NOT NULL DEFAULT 0,
            modified_at INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE INDEX environment_artifacts_scan ON environment_artifacts(scan_id, category, name);

        CREATE TABLE environment_checkpoints (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE SET NULL,
            label TEXT NOT NULL,
            checkpoint_type TEXT NOT NULL DEFAULT 'manual',
            project_dir TEXT,
            git_tag TEXT,
            git_commit_sha TEXT,
            git_note TEXT,
            backup_path TEXT,
            files_count INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active',
            created_at TEXT NOT NULL
        );
        CREATE INDEX environment_checkpoints_created ON environment_checkpoints(checkpoint_type, created_at);

        CREATE TABLE environment_sync_ops (
            id TEXT PRIMARY KEY,
            checkpoint_id TEXT NOT NULL REFERENCES environment_checkpoints(id) ON DELETE CASCADE,
            artifact_id TEXT,
            operation TEXT NOT NULL,
            target_tool TEXT NOT NULL,
            target_path TEXT NOT NULL,
            diff_preview TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            error TEXT,
            applied_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX environment_sync_ops_checkpoint ON environment_sync_ops(checkpoint_id, created_at);

        CREATE TABLE environment_templates (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            manifest TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT 'user',
            artifact_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    )

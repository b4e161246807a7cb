"""Migration m015: user agent profiles (`profiles`: config JSON + SKILL.md, written by stagent)
and the latest smoke-test report per profile and runtime (`profile_test_results`)."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m015_profiles(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS profiles (
            id TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            skill_md TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'manual',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS profile_test_results (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL,
            runtime_id TEXT NOT NULL,
            report TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS profile_test_results_latest
            ON profile_test_results(profile_id, runtime_id, created_at);
        """,
    )

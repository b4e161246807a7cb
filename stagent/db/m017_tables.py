"""Migration m017: the tables domain (issue 17) and saved views.

- `user_tables`: a user's table; `column_schema` is a denormalised copy of its columns (JSON),
  `row_count` is kept by every insert/delete.
- `user_table_columns`: typed columns, unique by (table, name); `name` is the key in row data.
- `user_table_rows`: `data` is a JSON object keyed by column name (computed values materialised,
  so filters and sorts on them run in SQL); `position` orders rows by default.
- `user_table_row_history`: the previous data of a row before each update or delete (no FK to
  the row: the history of a deleted row is what rolls it back). `seq` orders newest first.
- `user_table_triggers`: row_added | row_updated | row_deleted → create_task | run_workflow,
  with `fire_count`, `last_fired_at`, and `skipped_count`/`last_error` for storms and failures.
- `user_table_views`: per-table saved views; charts are rows with type `chart`.
- `user_table_templates`: the user's templates (scope `user`); system templates ship in code.
- `user_table_imports`: one row per import of a document into a table.
- `views`: saved views of a UI surface (tables grid, task list).
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m017_tables(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE user_tables (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            description TEXT,
            column_schema TEXT NOT NULL DEFAULT '[]',
            row_count INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT 'manual',
            template_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX user_tables_updated ON user_tables(updated_at DESC);
        CREATE INDEX user_tables_project ON user_tables(project_id);

        CREATE TABLE user_table_columns (
            id TEXT PRIMARY KEY,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            data_type TEXT NOT NULL,
            position INTEGER NOT NULL,
            required INTEGER NOT NULL DEFAULT 0,
            default_value TEXT,
            config TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (table_id, name)
        );
        CREATE INDEX user_table_columns_table ON user_table_columns(table_id, position);

        CREATE TABLE user_table_rows (
            id TEXT PRIMARY KEY,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            data TEXT NOT NULL DEFAULT '{}',
            position INTEGER NOT NULL,
            created_by TEXT NOT NULL DEFAULT 'user',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX user_table_rows_table ON user_table_rows(table_id, position);

        CREATE TABLE user_table_row_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            row_id TEXT NOT NULL,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            previous_data TEXT NOT NULL,
            changed_by TEXT NOT NULL DEFAULT 'user',
            change_type TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX user_table_row_history_table ON user_table_row_history(table_id, seq DESC);
        CREATE INDEX user_table_row_history_row ON user_table_row_history(row_id, seq DESC);

        CREATE TABLE user_table_triggers (
            id TEXT PRIMARY KEY,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            trigger_event TEXT NOT NULL,
            condition TEXT,
            action_type TEXT NOT NULL,
            action_config TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'active',
            fire_count INTEGER NOT NULL DEFAULT 0,
            last_fired_at TEXT,
            skipped_count INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX user_table_triggers_table ON user_table_triggers(table_id, trigger_event, status);

        CREATE TABLE user_table_views (
            id TEXT PRIMARY KEY,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            type TEXT NOT NULL DEFAULT 'grid',
            config TEXT,
            is_default INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX user_table_views_table ON user_table_views(table_id, type);

        CREATE TABLE user_table_templates (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            category TEXT NOT NULL DEFAULT 'business',
            column_schema TEXT NOT NULL DEFAULT '[]',
            sample_data TEXT,
            scope TEXT NOT NULL DEFAULT 'user',
            icon TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE user_table_imports (
            id TEXT PRIMARY KEY,
            table_id TEXT NOT NULL REFERENCES user_tables(id) ON DELETE CASCADE,
            document_id TEXT REFERENCES documents(id) ON DELETE SET NULL,
            row_count INTEGER NOT NULL DEFAULT 0,
            error_count INTEGER NOT NULL DEFAULT 0,
            errors TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL
        );
        CREATE INDEX user_table_imports_table ON user_table_imports(table_id, created_at);

        CREATE TABLE views (
            id TEXT PRIMARY KEY,
            surface TEXT NOT NULL,
            name TEXT NOT NULL,
            filters TEXT,
            sorting TEXT,
            columns TEXT,
            density TEXT NOT NULL DEFAULT 'comfortable',
            is_default INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX views_surface ON views(surface, is_default DESC, name);
        """,
    )

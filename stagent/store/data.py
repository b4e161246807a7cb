"""SQL of sample data and of clearing user data. Generic over the schema (the tables a clear
empties are found from sqlite_master and ordered by their foreign keys), so tables other
domains add later are cleared too, and seed rows only fill columns that exist."""

from __future__ import annotations

import re
import sqlite3

# Not user data: credentials, settings, the schema, counters, configured channels and the
# user's agent profiles and skills (definitions, like blueprints).
KEPT_TABLES = frozenset({"api_keys", "settings", "schema_migrations", "sqlite_sequence", "notification_clock",
                         "channel_configs", "profiles", "skills"})


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def _plain_tables(conn: sqlite3.Connection) -> list[str]:
    """Ordinary tables: not SQLite's own, not virtual tables (full-text indexes) nor their
    shadow tables, which their triggers keep in step with the base tables."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return [name for name, _ in rows if not name.startswith("sqlite_") and name not in virtual
            and not any(name.startswith(v + "_") for v in virtual)]


def user_tables_in_delete_order(conn: sqlite3.Connection) -> list[str]:
    """Every user-data table, children before the tables their foreign keys point at."""
    names = [t for t in _plain_tables(conn) if t not in KEPT_TABLES]
    parents = {t: {r[2] for r in conn.execute(f'PRAGMA foreign_key_list("{t}")')} - {t} for t in names}
    ordered, placed = [], set()
    while len(ordered) < len(names):
        # a table goes once no remaining table references it
        ready = [t for t in names if t not in placed
                 and not any(t in parents[o] for o in names if o not in placed and o != t)]
        ready = ready or [next(t for t in names if t not in placed)]  # a cycle: any order works with cascades
        for t in sorted(ready):
            ordered.append(t)
            placed.add(t)
    return ordered


def camel(table: str) -> str:
    head, *rest = table.split("_")
    return head + "".join(part.capitalize() for part in rest)


def clear_in(conn: sqlite3.Connection) -> dict[str, int]:
    """Delete all user data inside the caller's transaction; rows deleted per table (camelCase)."""
    deleted = {}
    for table in user_tables_in_delete_order(conn):
        deleted[camel(table)] = conn.execute(f'DELETE FROM "{table}"').rowcount
    return deleted


_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def insert_rows(conn: sqlite3.Connection, table: str, rows: list[dict]) -> int:
    """Insert rows, keeping only the columns the table has; 0 when the table does not exist."""
    if not rows or not _NAME.match(table) or table not in tables(conn):
        return 0
    columns = _columns(conn, table)
    for row in rows:
        values = {k: v for k, v in row.items() if k in columns}
        conn.execute(f'INSERT INTO "{table}" ({", ".join(values)}) VALUES ({", ".join("?" * len(values))})',
                     tuple(values.values()))
    return len(rows)


def insert_group(conn: sqlite3.Connection, groups: list[tuple[str, list[dict]]]) -> dict[str, int]:
    """insert_rows for tables another domain owns (documents, user tables), all or nothing: when
    their shape does not match these rows, none of the group is inserted (a savepoint)."""
    conn.execute("SAVEPOINT optional_rows")
    try:
        counts = {table: insert_rows(conn, table, rows) for table, rows in groups}
    except sqlite3.Error:
        conn.execute("ROLLBACK TO optional_rows")
        counts = {table: 0 for table, _ in groups}
    conn.execute("RELEASE optional_rows")
    return counts

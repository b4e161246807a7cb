"""Workflow records: create, get, list, edit the definition, rename; what a runnable definition is.

A workflow's `definition` is JSON text in the row (the catalog's WorkflowDefinition: `pattern` +
`steps[]`, plus `triggers[]` for Stan's trigger nodes); these functions hand it out parsed.
A definition edit is a read-modify-write inside ONE writer transaction, so two edits never lose
each other's changes. Run state lives in the Workflows engine's tables (m009); an edit of a
finished workflow puts it back to `draft` (its run state no longer shown), as the catalog's
PATCH does. A draft may be incomplete; engine/workflows/definition.py's `validate_definition`
is the bar to create one through the API and to run one (docs/decisions/013-workflows.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from ..db import Database
from ..db.rows import new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound

T = TypeVar("T")

PATTERNS = ("sequence", "planner-executor", "checkpoint", "loop", "parallel", "swarm")
STATUSES = ("draft", "active", "paused", "completed", "failed")
EDITABLE = ("draft", "completed", "failed")
NAME_MAX = 200
RUN_STATE_KEYS = ("_state", "_loopState")
LINEAGE_KEYS = ("_blueprintId", "_blueprintVersion")


def empty_definition(pattern: str = "sequence") -> dict:
    return {"pattern": pattern, "steps": [], "triggers": []}


def _parse(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    value.setdefault("pattern", "sequence")
    value.setdefault("steps", [])
    value.setdefault("triggers", [])
    return value


def parse_stored(text: str | None) -> dict:
    """The stored definition text, parsed (pattern, steps and triggers always present)."""
    return _parse(text)


def _workflow(row: sqlite3.Row) -> dict:
    workflow = row_to_dict(row)
    workflow["definition"] = _parse(workflow.get("definition"))
    return workflow


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Workflow name must not be blank")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise Invalid(f"Workflow name must be at most {NAME_MAX} characters")
    return name


def fetch_row(conn: sqlite3.Connection, workflow_id: str) -> sqlite3.Row:
    """The workflow's row; NotFound with the catalog's message otherwise (every fetch of a
    workflow goes through here)."""
    row = conn.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
    if row is None:
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    return row


def _dump(definition: dict) -> str:
    """The definition as stored JSON text: NaN and Infinity are not JSON, so they are refused
    (a Stan tool or a blueprint could hand one in) instead of stored unreadable."""
    try:
        return json.dumps(definition, allow_nan=False)
    except ValueError:
        raise Invalid("definition must not contain NaN or Infinity (they are not valid JSON)") from None


async def create_workflow(db: Database, *, name: str, definition: dict | None = None,
                          project_id: str | None = None) -> dict:
    """A new `draft`; a draft may have no steps (the at-least-one rule applies on execute)."""
    name = _clean_name(name)
    definition = definition or empty_definition()
    if definition.get("pattern") not in PATTERNS:
        raise Invalid(f"Unknown workflow pattern '{definition.get('pattern')}'. "
                      f"Use one of: {', '.join(PATTERNS)}")
    workflow_id, now = new_id(), now_iso()

    def insert(conn):
        if project_id is not None and conn.execute(
                "SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
            raise Invalid(f"Project {project_id} not found")
        conn.execute(
            "INSERT INTO workflows (id, project_id, name, definition, status, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (workflow_id, project_id, name, _dump(definition), "draft", now, now))
        return fetch_row(conn, workflow_id)

    return _workflow(await db.write(insert))


async def get_workflow(db: Database, workflow_id: str) -> dict:
    return _workflow(await db.read(lambda conn: fetch_row(conn, workflow_id)))


async def list_workflows(db: Database, *, project_id: str | None = None,
                         limit: int | None = None) -> list[dict]:
    """Newest first."""
    sql, params = "SELECT * FROM workflows", []
    if project_id is not None:
        sql += " WHERE project_id = ?"
        params.append(project_id)
    sql += " ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_workflow(r) for r in await db.fetchall(sql, params)]


def _check_editable(row: sqlite3.Row) -> None:
    if row["status"] not in EDITABLE:
        raise Conflict(f"Workflow '{row['name']}' is {row['status']}; it can be edited when it is "
                       "not running (draft, completed or failed).", code="WORKFLOW_NOT_EDITABLE")


def _edit(conn: sqlite3.Connection, workflow_id: str, change: Callable[[dict], T] | None = None,
          name: str | None = None) -> tuple[sqlite3.Row, T | None]:
    """An edit as the catalog's PATCH makes it: refused while the workflow runs; a finished
    one goes back to `draft` without its run state."""
    row = fetch_row(conn, workflow_id)
    _check_editable(row)
    definition = _parse(row["definition"])
    for key in RUN_STATE_KEYS:
        definition.pop(key, None)
    result = change(definition) if change is not None else None
    conn.execute("UPDATE workflows SET name = ?, definition = ?, status = 'draft', updated_at = ? WHERE id = ?",
                 (name or row["name"], _dump(definition), now_iso(), workflow_id))
    return fetch_row(conn, workflow_id), result


async def edit_definition(db: Database, workflow_id: str,
                          change: Callable[[dict], T]) -> tuple[dict, T]:
    """Apply `change(definition)` (mutating it) in one transaction; returns (workflow, result).

    `change` runs on the writer thread: plain Python on the dict, no I/O. If it raises, nothing
    is written.
    """
    row, result = await db.write(lambda conn: _edit(conn, workflow_id, change))
    return _workflow(row), result


async def rename_workflow(db: Database, workflow_id: str, name: str) -> dict:
    """A rename is an edit: refused while the workflow runs (as the catalog's PATCH of `name`)."""
    name = _clean_name(name)
    row, _ = await db.write(lambda conn: _edit(conn, workflow_id, name=name))
    return _workflow(row)


async def replace(db: Database, workflow_id: str, *, name: str | None = None,
                  definition: dict | None = None) -> dict:
    """The catalog's PATCH edit (mode A): a new name and/or a whole new definition, in one
    transaction; refused while the workflow runs."""
    name = _clean_name(name) if name is not None else None

    def change(current: dict) -> None:
        if definition is not None:
            # Lineage outlives edits: a client that sends the definition back without the
            # blueprint keys (the UI, an older script) does not cut the workflow off its blueprint.
            lineage = {k: current[k] for k in LINEAGE_KEYS if k in current}
            current.clear()
            current.update(lineage)
            current.update({k: v for k, v in definition.items() if k not in RUN_STATE_KEYS})

    row, _ = await db.write(lambda conn: _edit(conn, workflow_id, change, name=name))
    return _workflow(row)

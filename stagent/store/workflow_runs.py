"""Workflow runs, step states and document bindings (m009), and the workflow list's counts.

The `_in` functions run inside the caller's transaction (the engine commits a state change
together with the progress line that announces it, through LogBus.transact).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..db import Database
from ..db.rows import dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Conflict, Invalid, NotFound
from . import workflows as workflow_store

ENGINE_AGENT = "workflow-engine"  # agent_type of the engine's progress lines (task_id NULL)
LIVE_STEP = ("running", "waiting_approval", "waiting_dependencies")
_STATE_FIELDS = ("status", "task_id", "notification_id", "result", "error", "started_at", "completed_at")


def raw_in(conn, workflow_id: str) -> dict:
    """The catalog's Workflow: `definition` as the stored JSON text."""
    return row_to_dict(workflow_store.fetch_row(conn, workflow_id))


def fetch_in(conn, workflow_id: str) -> dict:
    workflow = raw_in(conn, workflow_id)
    workflow["definition"] = workflow_store.parse_stored(workflow["definition"])
    return workflow


def claim_in(conn, workflow_id: str, *, trigger: str, input_text: str | None, log_seq: int,
             validate: Callable[[dict], object]) -> tuple[dict, bool]:
    """Start a new run (draft/completed/failed → active, runNumber + 1) or resume a paused
    one (paused → active, same run). Returns (workflow, resumed). The definition is checked
    with `validate` (the engine's rules) here, in the transaction, so an edit cannot slip in
    between the check and the claim."""
    workflow = fetch_in(conn, workflow_id)
    now = now_iso()
    if workflow["status"] == "active":
        raise Conflict("Workflow is already running")
    if workflow["status"] == "paused":
        conn.execute("UPDATE workflows SET status = 'active', updated_at = ? WHERE id = ?", (now, workflow_id))
        conn.execute("UPDATE workflow_runs SET status = 'running', stop_reason = NULL WHERE workflow_id = ? "
                     "AND run_number = ?", (workflow_id, workflow["runNumber"]))
        return {**workflow, "status": "active"}, True
    validate(workflow["definition"])
    number = workflow["runNumber"] + 1
    conn.execute("UPDATE workflows SET status = 'active', run_number = ?, updated_at = ? WHERE id = ?",
                 (number, now, workflow_id))
    conn.execute("INSERT INTO workflow_runs (workflow_id, run_number, status, trigger, input_text, log_seq, "
                 "started_at) VALUES (?,?,?,?,?,?,?)",
                 (workflow_id, number, "running", trigger, input_text, log_seq, now))
    return {**workflow, "status": "active", "runNumber": number}, False


def run_in(conn, workflow_id: str, run_number: int) -> dict | None:
    row = conn.execute("SELECT * FROM workflow_runs WHERE workflow_id = ? AND run_number = ?",
                       (workflow_id, run_number)).fetchone()
    return None if row is None else row_to_dict(row)


async def get_run(db: Database, workflow_id: str, run_number: int) -> dict | None:
    return await db.read(lambda conn: run_in(conn, workflow_id, run_number))


def set_run_in(conn, workflow_id: str, run_number: int, **fields) -> None:
    sets = ", ".join(f"{key} = ?" for key in fields)
    conn.execute(f"UPDATE workflow_runs SET {sets} WHERE workflow_id = ? AND run_number = ?",
                 (*fields.values(), workflow_id, run_number))


def set_status_in(conn, workflow_id: str, status: str) -> None:
    conn.execute("UPDATE workflows SET status = ?, updated_at = ? WHERE id = ?", (status, now_iso(), workflow_id))


def set_step_in(conn, workflow_id: str, run_number: int, step_id: str, iteration: int, fields: dict) -> dict:
    """Insert or update one step state; returns the row as it now is."""
    known = {k: v for k, v in fields.items() if k in _STATE_FIELDS}
    columns = ", ".join(known)
    updates = ", ".join(f"{k} = excluded.{k}" for k in known)
    conn.execute(
        f"INSERT INTO workflow_step_states (workflow_id, run_number, step_id, iteration, {columns}) "
        f"VALUES (?,?,?,?,{','.join('?' * len(known))}) "
        f"ON CONFLICT(workflow_id, run_number, step_id, iteration) DO UPDATE SET {updates}",
        (workflow_id, run_number, step_id, iteration, *known.values()))
    return row_to_dict(conn.execute(
        "SELECT * FROM workflow_step_states WHERE workflow_id = ? AND run_number = ? AND step_id = ? "
        "AND iteration = ?", (workflow_id, run_number, step_id, iteration)).fetchone())


def states_in(conn, workflow_id: str, run_number: int) -> list[dict]:
    return [row_to_dict(r) for r in conn.execute(
        "SELECT * FROM workflow_step_states WHERE workflow_id = ? AND run_number = ? "
        "ORDER BY iteration, started_at, rowid", (workflow_id, run_number))]


async def states(db: Database, workflow_id: str, run_number: int) -> list[dict]:
    return await db.read(lambda conn: states_in(conn, workflow_id, run_number))


def reset_steps_in(conn, workflow_id: str, run_number: int, keys: list[tuple[str, int]]) -> None:
    conn.executemany("DELETE FROM workflow_step_states WHERE workflow_id = ? AND run_number = ? AND step_id = ? "
                     "AND iteration = ?", [(workflow_id, run_number, s, i) for s, i in keys])


def fail_live_steps_in(conn, workflow_id: str, run_number: int, error: str) -> list[dict]:
    """Steps still running or waiting become failed (a cancel); returns them as they were."""
    live = [row_to_dict(r) for r in conn.execute(
        f"SELECT * FROM workflow_step_states WHERE workflow_id = ? AND run_number = ? "
        f"AND status IN ({','.join('?' * len(LIVE_STEP))})", (workflow_id, run_number, *LIVE_STEP))]
    conn.execute(
        f"UPDATE workflow_step_states SET status = 'failed', error = ?, completed_at = ? WHERE workflow_id = ? "
        f"AND run_number = ? AND status IN ({','.join('?' * len(LIVE_STEP))})",
        (error, now_iso(), workflow_id, run_number, *LIVE_STEP))
    return live


async def active_ids(db: Database) -> list[str]:
    return [r["id"] for r in await db.fetchall("SELECT id FROM workflows WHERE status = 'active'")]


async def statuses(db: Database) -> dict[str, str]:
    """Every workflow's status, by id."""
    return {r["id"]: r["status"] for r in await db.fetchall("SELECT id, status FROM workflows")}


async def status(db: Database, workflow_id: str) -> str | None:
    return await db.scalar("SELECT status FROM workflows WHERE id = ?", (workflow_id,))


async def running_task_ids(db: Database, workflow_id: str) -> list[str]:
    """The workflow's step tasks that are running now."""
    rows = await db.fetchall("SELECT id FROM tasks WHERE workflow_id = ? AND status = 'running'", (workflow_id,))
    return [r["id"] for r in rows]


_BOUND_COLUMNS = ("d.id, d.original_name, d.mime_type, d.status, d.processing_error, "
                  "length(d.extracted_text) AS chars, substr(d.extracted_text, 1, ?) AS head")


async def bound_documents(db: Database, workflow_id: str, steps: list[dict] = (), head_chars: int = 20_000
                          ) -> list[dict]:
    """The documents a step's prompt gets, with their first `head_chars` of text and its full
    length (`chars`): those bound to the workflow (stepId None: every step) or to one step, then
    those a step lists in its `documentIds` (ids of documents that no longer exist are skipped)."""
    rows = await db.fetchall(
        f"SELECT b.step_id, {_BOUND_COLUMNS} FROM workflow_documents b "
        "JOIN documents d ON d.id = b.document_id WHERE b.workflow_id = ? ORDER BY b.created_at, b.rowid",
        (head_chars, workflow_id))
    documents = [row_to_dict(r) for r in rows]
    listed = {step["id"]: [d for d in step.get("documentIds") or [] if isinstance(d, str)] for step in steps}
    wanted = sorted({d for ids in listed.values() for d in ids})
    if wanted:
        found = {r["id"]: row_to_dict(r) for r in await db.fetchall(
            f"SELECT {_BOUND_COLUMNS} FROM documents d WHERE d.id IN (SELECT value FROM json_each(?))",
            (head_chars, dumps(wanted)))}
        documents += [{**found[d], "stepId": step_id} for step_id, ids in listed.items() for d in ids if d in found]
    return documents


# ---- checkpoint requests -------------------------------------------------------------------

CHECKPOINT_TOOL = "WorkflowCheckpoint"


def open_checkpoints_in(conn, workflow_id: str | None = None) -> list[dict]:
    """Unanswered checkpoint requests (of one workflow, or all) as {id, workflowId}."""
    rows = conn.execute(
        "SELECT id, tool_input FROM notifications WHERE type = 'permission_required' AND response IS NULL "
        "AND tool_name = ? AND task_id IS NULL", (CHECKPOINT_TOOL,)).fetchall()
    found = [{"id": r["id"], "workflowId": (loads(r["tool_input"], {}) or {}).get("workflowId")} for r in rows]
    return [f for f in found if workflow_id is None or f["workflowId"] == workflow_id]


# ---- the list, history and deletion ---------------------------------------------------------

_COUNTS = ("(SELECT COUNT(*) FROM tasks t WHERE t.workflow_id = w.id) AS task_count, "
           "(SELECT COUNT(*) FROM documents d JOIN tasks t ON t.id = d.task_id WHERE t.workflow_id = w.id "
           "AND d.direction = 'output') AS output_doc_count")


async def list_with_counts(db: Database) -> list[dict]:
    rows = await db.fetchall(f"SELECT w.*, {_COUNTS} FROM workflows w ORDER BY w.created_at DESC, w.rowid DESC")
    return [row_to_dict(r) for r in rows]


def run_history_in(conn, workflow_id: str) -> list[dict]:
    """The catalog's per-run task counts, newest run first, plus each run's own record."""
    rows = conn.execute(
        "SELECT workflow_run_number AS run_number, COUNT(*) AS task_count, "
        "SUM(status = 'completed') AS completed_count, SUM(status = 'failed') AS failed_count "
        "FROM tasks WHERE workflow_id = ? GROUP BY workflow_run_number", (workflow_id,)).fetchall()
    history = {r["run_number"]: row_to_dict(r) for r in rows}
    for run in conn.execute("SELECT * FROM workflow_runs WHERE workflow_id = ?", (workflow_id,)):
        entry = history.setdefault(run["run_number"], {"runNumber": run["run_number"], "taskCount": 0,
                                                       "completedCount": 0, "failedCount": 0})
        entry.update(status=run["status"], trigger=run["trigger"], startedAt=run["started_at"],
                     finishedAt=run["finished_at"], error=run["error"], stopReason=run["stop_reason"])
    return sorted(history.values(), key=lambda e: -1 if e["runNumber"] is None else e["runNumber"], reverse=True)


def delete_in(conn, workflow_id: str) -> list[str]:
    """Delete the workflow, its step tasks (their logs, sessions, notifications go with them)
    and its progress lines. Spend rows stay (the ledger outlives what caused it)."""
    task_ids = [r["id"] for r in conn.execute("SELECT id FROM tasks WHERE workflow_id = ?", (workflow_id,))]
    conn.execute("DELETE FROM tasks WHERE workflow_id = ?", (workflow_id,))
    conn.execute("DELETE FROM agent_logs WHERE task_id IS NULL AND agent_type = ? "
                 "AND json_extract(payload, '$.workflowId') = ?", (ENGINE_AGENT, workflow_id))
    conn.execute("DELETE FROM workflows WHERE id = ?", (workflow_id,))
    return task_ids


# ---- document bindings ----------------------------------------------------------------------

def bindings_in(conn, workflow_id: str) -> list[dict]:
    rows = conn.execute(
        "SELECT b.id AS binding_id, b.document_id, b.step_id, b.created_at, d.id AS doc_id, d.original_name, "
        "d.filename, d.mime_type, d.size, d.direction, d.status, d.category FROM workflow_documents b "
        "LEFT JOIN documents d ON d.id = b.document_id WHERE b.workflow_id = ? ORDER BY b.created_at, b.rowid",
        (workflow_id,)).fetchall()
    out = []
    for r in rows:
        document = None if r["doc_id"] is None else {
            "id": r["doc_id"], "originalName": r["original_name"], "filename": r["filename"],
            "mimeType": r["mime_type"], "size": r["size"], "direction": r["direction"], "status": r["status"],
            "category": r["category"]}
        out.append({"bindingId": r["binding_id"], "documentId": r["document_id"], "stepId": r["step_id"],
                    "createdAt": r["created_at"], "document": document})
    return out


def attach_in(conn, workflow_id: str, document_ids: list[str], step_id: str | None) -> None:
    fetch_in(conn, workflow_id)
    marks = ",".join("?" * len(document_ids))
    found = {r["id"] for r in conn.execute(f"SELECT id FROM documents WHERE id IN ({marks})", document_ids)}
    missing = [d for d in document_ids if d not in found]
    if missing:
        raise NotFound(f"Documents not found: {', '.join(missing)}")
    now = now_iso()
    conn.executemany("INSERT OR IGNORE INTO workflow_documents (id, workflow_id, document_id, step_id, created_at) "
                     "VALUES (?,?,?,?,?)", [(new_id(), workflow_id, d, step_id, now) for d in document_ids])


def detach_in(conn, workflow_id: str, document_ids: list[str] | None, step_id: str | None) -> None:
    if not document_ids:
        conn.execute("DELETE FROM workflow_documents WHERE workflow_id = ?", (workflow_id,))
        return
    sql = "DELETE FROM workflow_documents WHERE workflow_id = ? AND document_id = ?"
    if step_id is not None:
        sql += " AND step_id = ?"
    conn.executemany(sql, [(workflow_id, d, step_id) if step_id is not None else (workflow_id, d)
                           for d in document_ids])


# ---- from-assist ----------------------------------------------------------------------------

def create_with_tasks_in(conn, *, name: str, definition: dict, project_id: str | None, priority: int,
                         assigned_agent: str | None) -> tuple[dict, list[str]]:
    """The workflow (draft) and one `planned` task per step, in the caller's transaction."""
    from .tasks import insert_task

    if project_id is not None and conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
        raise Invalid(f"Project {project_id} not found")
    workflow_id, now = new_id(), now_iso()
    conn.execute("INSERT INTO workflows (id, project_id, name, definition, status, created_at, updated_at) "
                 "VALUES (?,?,?,?,?,?,?)", (workflow_id, project_id, name, dumps(definition), "draft", now, now))
    task_ids = []
    for step in definition["steps"]:
        task = insert_task(conn, {
            "title": (step.get("name") or step["id"])[:200], "description": step.get("prompt"),
            "project_id": project_id, "workflow_id": workflow_id, "status": "planned",
            "assigned_agent": step.get("assignedAgent") or assigned_agent,
            "agent_profile": step.get("agentProfile"), "priority": priority, "source_type": "workflow"})
        task_ids.append(task["id"])
    return fetch_in(conn, workflow_id), task_ids


def task_row_in(conn, task_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT id, status, result, title, description FROM tasks WHERE id = ?", (task_id,)).fetchone()

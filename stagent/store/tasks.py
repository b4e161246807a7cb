"""Tasks: rows, the status machine, the atomic execute claim, output, usage, provenance."""

from __future__ import annotations

import json
import re

from ..db import Database
from ..db.rows import camel, dumps, loads, new_id, now_iso, row_to_dict
from ..errors import Invalid, NotFound
from . import document_context

STATUSES = ("planned", "queued", "running", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
DELETED = "deleted"  # not a stored status: the TaskStatusChanged of a task whose row is gone
# The log line that announces each terminal status; it commits in the same transaction.
TERMINAL_LINE = {"completed": "completed", "failed": "error", "cancelled": "cancelled"}
TRANSITIONS = {
    "planned": {"queued", "cancelled"},
    "queued": {"running", "planned", "cancelled"},
    "running": {"completed", "failed", "cancelled"},
    "completed": {"planned"},
    "failed": {"planned", "queued", "running"},
    "cancelled": {"planned", "running"},
}
MAX_RESUMES = 3
# What a run may spend when the task sets no `maxBudgetUsd` (the original's defaults).
DEFAULT_BUDGET_USD = 2.0
WORKFLOW_STEP_BUDGET_USD = 5.0
MAX_BUDGET_USD = 10_000.0
_EDITABLE = ("title", "description", "status", "priority", "assigned_agent", "agent_profile",
             "result", "session_id", "model_id", "project_id", "max_budget_usd")
_COLUMNS = ("id, project_id, workflow_id, schedule_id, title, description, status, assigned_agent, "
            "agent_profile, model_id, priority, result, session_id, resume_count, source_type, "
            "workflow_run_number, parent_task_id, max_budget_usd, created_at, updated_at")


def check_transition(current: str, new: str) -> None:
    if new != current and new not in TRANSITIONS[current]:
        raise Invalid(f"Invalid transition from {current} to {new}")


def _select(conn, task_id: str):
    return conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()


async def list_tasks(db: Database, project_id: str | None = None, status: str | None = None) -> list[dict]:
    sql, params = f"SELECT {_COLUMNS} FROM tasks WHERE 1=1", []
    if project_id:
        sql += " AND project_id = ?"
        params.append(project_id)
    if status:
        sql += " AND status = ?"
        params.append(status)
    sql += " ORDER BY priority ASC, created_at DESC, rowid DESC"
    return [row_to_dict(r) for r in await db.fetchall(sql, params)]


_TASK_KEYS = tuple(camel(column.strip()) for column in _COLUMNS.split(","))
_USAGE_KEYS = ("inputTokens", "outputTokens", "totalTokens", "costMicros", "modelId", "startedAt", "finishedAt")


def _read_task(conn, task_id: str) -> dict | None:
    """The task with its project name and usage totals, in one statement (the hottest read)."""
    row = conn.execute(
        f"SELECT t.*, p.name AS project_name, u.* FROM (SELECT {_COLUMNS} FROM tasks WHERE id = ?1) t "
        "LEFT JOIN projects p ON p.id = t.project_id "
        "JOIN (SELECT COUNT(*) AS usage_rows, SUM(input_tokens), SUM(output_tokens), SUM(total_tokens), "
        "SUM(cost_micros), MAX(model_id), MIN(started_at), MAX(finished_at) "
        "FROM usage_ledger WHERE task_id = ?1) u",
        (task_id,),
    ).fetchone()
    if row is None:
        return None
    width = len(_TASK_KEYS)  # task columns; then project_name, usage_rows and the 7 usage values
    task = dict(zip(_TASK_KEYS, row[:width], strict=True))
    if row[width] is not None:
        task["projectName"] = row[width]
    if row[width + 1]:
        task["usage"] = dict(zip(_USAGE_KEYS, row[width + 2:], strict=True))
    return task


async def get_task(db: Database, task_id: str) -> dict:
    task = await db.read(lambda conn: _read_task(conn, task_id))
    if task is None:
        raise NotFound()
    return task


async def get_task_row(db: Database, task_id: str) -> dict:
    row = await db.read(lambda conn: _select(conn, task_id))
    if row is None:
        raise NotFound("Task not found")
    return row_to_dict(row)


def _require_project(conn, project_id: str | None) -> None:
    if project_id is not None and conn.execute(
            "SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
        raise Invalid("Validation failed", field_errors={"projectId": ["Project not found"]}, form_errors=[])


def insert_task(conn, fields: dict) -> dict:
    values = _task_values(fields, now_iso())
    _require_project(conn, values["project_id"])
    conn.execute(_insert_sql(values), tuple(values.values()))
    return row_to_dict(_select(conn, values["id"]))


def insert_many_in(conn, fields_list: list[dict]) -> list[dict]:
    """insert_task for many tasks in three statements (a scheduler burst); same order out.
    Their projects must exist (the caller's rows reference them)."""
    now = now_iso()
    rows = [_task_values(fields, now) for fields in fields_list]
    if not rows:
        return []
    conn.executemany(_insert_sql(rows[0]), [tuple(values.values()) for values in rows])
    by_id = {r["id"]: row_to_dict(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE id IN (SELECT value FROM json_each(?))",
        (dumps([values["id"] for values in rows]),))}
    return [by_id[values["id"]] for values in rows]


def _insert_sql(columns) -> str:
    return f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _task_values(fields: dict, now: str) -> dict:
    return {
        "id": new_id(), "project_id": fields.get("project_id"), "workflow_id": fields.get("workflow_id"),
        "schedule_id": fields.get("schedule_id"), "title": fields["title"],
        "description": fields.get("description"), "status": fields.get("status") or "planned",
        "assigned_agent": fields.get("assigned_agent"), "agent_profile": fields.get("agent_profile"),
        "model_id": fields.get("model_id"),
        "priority": 2 if fields.get("priority") is None else fields["priority"],
        "source_type": fields.get("source_type", "manual"),
        "workflow_run_number": fields.get("workflow_run_number"),
        "parent_task_id": fields.get("parent_task_id"), "max_budget_usd": fields.get("max_budget_usd"),
        "created_at": now, "updated_at": now,
    }


async def create_task(db: Database, fields: dict) -> dict:
    document_ids = fields.pop("document_ids", None)

    def create(conn):
        task = insert_task(conn, fields)
        if document_ids:
            _link_documents(conn, task, document_ids)
        return task

    return await db.write(create)


def _link_documents(conn, task: dict, document_ids: list[str]) -> None:
    document_context.require_in(conn, document_ids)  # unknown ids: a 400 that changes nothing
    conn.execute("UPDATE documents SET task_id = NULL WHERE task_id = ?", (task["id"],))
    for doc_id in document_ids:
        conn.execute("UPDATE documents SET task_id = ?, project_id = COALESCE(?, project_id) WHERE id = ?",
                     (task["id"], task["projectId"], doc_id))


def update_in(conn, task_id: str, fields: dict) -> tuple[dict, str]:
    """Apply a PATCH inside the caller's transaction; returns (task, previous status)."""
    changes = {k: v for k, v in fields.items() if k in _EDITABLE}
    row = _select(conn, task_id)
    if row is None:
        raise NotFound()
    document_context.require_in(conn, fields.get("document_ids"))
    previous = row["status"]
    if "status" in changes:
        check_transition(previous, changes["status"])
    _require_project(conn, changes.get("project_id"))
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        conn.execute(f"UPDATE tasks SET {sets}, updated_at = ? WHERE id = ?",
                     (*changes.values(), now_iso(), task_id))
    task = row_to_dict(_select(conn, task_id))
    if fields.get("document_ids") is not None:
        _link_documents(conn, task, fields["document_ids"])
    return task, previous


def delete_in(conn, task_id: str) -> None:
    if conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount == 0:
        raise NotFound()


async def delete_task(db: Database, task_id: str) -> None:
    await db.write(lambda conn: delete_in(conn, task_id))


async def claim(db: Database, task_id: str, allowed_from: tuple[str, ...], *,
                count_resume: bool = False) -> dict:
    """Atomically move a task to `running` from one of `allowed_from`, or say why not."""

    def run(conn):
        marks = ",".join("?" * len(allowed_from))
        extra = ", resume_count = resume_count + 1" if count_resume else ""
        changed = conn.execute(
            f"UPDATE tasks SET status = 'running', updated_at = ?{extra} WHERE id = ? AND status IN ({marks})",
            (now_iso(), task_id, *allowed_from),
        ).rowcount
        row = _select(conn, task_id)
        if row is None:
            raise NotFound()
        if changed == 0:
            return None, row["status"]
        return row_to_dict(row), None

    task, status = await db.write(run)
    if task is None:
        if allowed_from == ("queued",):
            raise Invalid(f"Task must be queued to execute, current status: {status}")
        raise Invalid(f"Task cannot be resumed from status: {status}")
    return task


def finish_in(conn, task_id: str, status: str, result: str | None, *, only_if_running: bool = True) -> bool:
    """Set a terminal status; with only_if_running a cancelled run does not get overwritten."""
    cond = " AND status = 'running'" if only_if_running else f" AND status NOT IN ({','.join(repr(t) for t in TERMINAL)})"
    changed = conn.execute(
        f"UPDATE tasks SET status = ?, result = COALESCE(?, result), updated_at = ? WHERE id = ?{cond}",
        (status, result, now_iso(), task_id),
    ).rowcount
    return changed == 1


def set_fields_in(conn, task_id: str, **fields) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE tasks SET {sets}, updated_at = ? WHERE id = ?", (*fields.values(), now_iso(), task_id))


async def set_fields(db: Database, task_id: str, **fields) -> None:
    await db.write(lambda conn: set_fields_in(conn, task_id, **fields))


def fail_interrupted_in(conn, keep: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """On start: tasks a crash left `running` become failed with result `interrupted`, except
    those in `keep` (paused for a permission answer: they continue)."""
    tasks = [row_to_dict(r) for r in conn.execute("SELECT id, assigned_agent FROM tasks WHERE status = 'running'")
             if r["id"] not in keep]
    now = now_iso()
    conn.executemany("UPDATE tasks SET status = 'failed', result = 'interrupted', updated_at = ? WHERE id = ?",
                     [(now, task["id"]) for task in tasks])
    return tasks


def usage_insert(entry: dict):
    cols = ("id", "task_id", "project_id", "workflow_id", "schedule_id", "activity_type", "runtime_id",
            "provider_id", "model_id", "status", "input_tokens", "output_tokens", "total_tokens",
            "cost_micros", "pricing_version", "started_at", "finished_at")
    values = {**{c: None for c in cols}, **entry, "id": new_id()}
    values["total_tokens"] = (values["input_tokens"] or 0) + (values["output_tokens"] or 0)

    # Spend is kept even when its task or project was deleted meanwhile (the link becomes NULL).
    marks = ["(SELECT id FROM tasks WHERE id = ?)" if c == "task_id" else
             "(SELECT id FROM projects WHERE id = ?)" if c == "project_id" else "?" for c in cols]

    def insert(conn):
        conn.execute(f"INSERT INTO usage_ledger ({', '.join(cols)}) VALUES ({', '.join(marks)})",
                     [values[c] for c in cols])

    return insert


async def record_usage(db: Database, entry: dict) -> None:
    await db.write(usage_insert(entry))


def record_usage_in(conn, entry: dict) -> None:
    """The ledger row inside the caller's transaction (with a task's final status)."""
    usage_insert(entry)(conn)


# ---- read-only views ---------------------------------------------------------------------

_MARKDOWN = re.compile(r"(^#{1,6}\s|```|\*\*[^*]+\*\*|^\s*[-*]\s|\[[^\]]+\]\([^)]+\))", re.M)
_CODE = re.compile(r"^\s*(def |class |import |from \S+ import|function |const |let |var |#include|"
                   r"public |package |fn |SELECT |CREATE TABLE)", re.M)


def content_type(result: str | None) -> str:
    if not result or not result.strip():
        return "unknown"
    text = result.strip()
    if text[0] in "[{":
        try:
            json.loads(text)
            return "json"
        except ValueError:
            pass
    if _MARKDOWN.search(text):
        return "markdown"
    if _CODE.search(text):
        return "code"
    return "text"


async def siblings(db: Database, task_id: str) -> list[dict]:
    rows = await db.fetchall(
        "SELECT s.id, s.title, s.status, s.created_at FROM tasks t JOIN tasks s "
        "ON s.workflow_id = t.workflow_id AND s.workflow_run_number IS t.workflow_run_number "
        "AND s.id != t.id WHERE t.id = ? AND t.workflow_id IS NOT NULL ORDER BY s.created_at, s.rowid",
        (task_id,),
    )
    return [row_to_dict(r) for r in rows]


async def provenance(db: Database, task_id: str) -> dict:
    def read(conn):
        task = _select(conn, task_id)
        if task is None:
            raise NotFound("Task not found")
        logs = conn.execute("SELECT event, payload, timestamp FROM agent_logs WHERE task_id = ? "
                            "AND event NOT IN ('stream', 'content_block_delta') ORDER BY seq",
                            (task_id,)).fetchall()
        approvals = conn.execute("SELECT id, title, tool_name, tool_input, response, created_at, expires_at "
                                 "FROM notifications "
                                 "WHERE task_id = ? AND type = 'permission_required' ORDER BY created_at",
                                 (task_id,)).fetchall()
        usage = conn.execute("SELECT model_id, cost_micros, total_tokens, finished_at, status "
                             "FROM usage_ledger WHERE task_id = ? ORDER BY finished_at", (task_id,)).fetchall()
        return task, logs, approvals, usage

    task, logs, approvals, usage = await db.read(read)
    timeline = [{"timestamp": r["timestamp"], "type": "log", "event": r["event"],
                 "detail": (r["payload"] or "")[:500]} for r in logs]
    for a in approvals:
        response = json.loads(a["response"]) if a["response"] else None
        timeline.append({"timestamp": a["created_at"], "type": "approval", "event": a["tool_name"] or "approval",
                         "detail": a["title"], "status": (response or {}).get("behavior", "pending"),
                         "notificationId": a["id"]})
    # The request a running task is paused on, if any (an extension of the catalog's shape).
    pending = next(({"notificationId": a["id"], "toolName": a["tool_name"], "toolInput": a["tool_input"],
                     "createdAt": a["created_at"], "expiresAt": a["expires_at"]}
                    for a in approvals if a["response"] is None), None)
    for u in usage:
        timeline.append({"timestamp": u["finished_at"], "type": "cost", "event": u["model_id"] or "usage",
                         "detail": f"{u['total_tokens']} tokens, ${u['cost_micros'] / 1e6:.6f}",
                         "status": u["status"]})
    timeline.sort(key=lambda e: e["timestamp"] or "")
    completed_at = task["updated_at"] if task["status"] in TERMINAL else None
    total_micros = sum(u["cost_micros"] for u in usage)
    return {
        "taskId": task["id"], "taskTitle": task["title"], "taskStatus": task["status"],
        "initiator": task["source_type"] or "manual", "agentProfile": task["agent_profile"],
        "runtime": task["assigned_agent"], "createdAt": task["created_at"], "completedAt": completed_at,
        "timeline": timeline, "totalCost": total_micros / 1e6, "totalCostMicros": total_micros,
        "approvalCount": len(approvals), "pendingApproval": pending,
        "toolCallCount": sum(1 for r in logs if r["event"] == "tool_start"),
    }


async def status_of(db: Database, task_id: str) -> str | None:
    """The task's status; None when the row is gone."""
    row = await db.fetchone("SELECT status FROM tasks WHERE id = ?", (task_id,))
    return row["status"] if row is not None else None


async def tool_names(db: Database, task_id: str) -> list[str] | None:
    """The task's fixed tool set (a built-in scheduled action's), or None for the default set."""
    names = loads(await db.scalar("SELECT tool_names FROM tasks WHERE id = ?", (task_id,)))
    return names if isinstance(names, list) else None

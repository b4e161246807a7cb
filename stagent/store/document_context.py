"""Documents as a run sees them: which documents a task run is bound to (its own, its project's
defaults, its schedule's), the outputs a workflow run's steps saved, schedule bindings, and the
check, inside the caller's transaction, that the `documentIds` a client sends exist.

Reading, searching and inserting documents is store/documents.py.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import dumps, new_id, now_iso, row_to_dict
from ..errors import Invalid

# ---- documentIds a client names ------------------------------------------------------------


def missing_in(conn, document_ids: list[str]) -> list[str]:
    """The ids among `document_ids` that name no document, in the order given."""
    wanted = list(dict.fromkeys(document_ids))
    if not wanted:
        return []
    found = {r[0] for r in conn.execute(
        "SELECT id FROM documents WHERE id IN (SELECT value FROM json_each(?))", (dumps(wanted),))}
    return [d for d in wanted if d not in found]


def require_in(conn, document_ids: list[str] | None, *, flatten: bool = True) -> None:
    """A 400 naming the unknown ids: the Zod-flatten shape (tasks, projects) or a plain
    `{error}` (schedules, workflows), as each domain answers its other validation errors."""
    missing = missing_in(conn, document_ids or [])
    if not missing:
        return
    message = f"Documents not found: {', '.join(missing)}"
    if flatten:
        raise Invalid("Validation failed", field_errors={"documentIds": [message]}, form_errors=[])
    raise Invalid(message)


async def require(db: Database, document_ids: list[str] | None, *, flatten: bool = True) -> None:
    await db.read(lambda conn: require_in(conn, document_ids, flatten=flatten))


# ---- what a run is bound to ----------------------------------------------------------------

_BOUND_SQL = """
WITH bound(id, via, ord) AS (
    SELECT id, 'task', 0 FROM documents WHERE task_id = :task
    UNION ALL SELECT document_id, 'project', 1 FROM project_document_defaults WHERE project_id = :project
    UNION ALL SELECT document_id, 'schedule', 2 FROM schedule_documents WHERE schedule_id = :schedule
)
SELECT d.id, d.original_name, d.mime_type, d.status, d.size, d.direction, d.processing_error,
       length(d.extracted_text) AS chars, substr(d.extracted_text, 1, :head) AS head,
       MIN(b.ord) AS ord, d.created_at
FROM bound b JOIN documents d ON d.id = b.id
GROUP BY d.id ORDER BY ord, d.created_at, d.id
"""


async def run_documents(db: Database, task: dict, head_chars: int) -> list[dict]:
    """The documents a task run is bound to, each once: the task's own, then its project's
    defaults, then its schedule's. `head` holds at most `head_chars` of the extracted text,
    `chars` its full length (None: no text)."""
    params = {"task": task["id"], "project": task.get("projectId"), "schedule": task.get("scheduleId"),
              "head": head_chars}
    rows = await db.read(lambda conn: conn.execute(_BOUND_SQL, params).fetchall(), site="run_documents")
    return [row_to_dict(r) for r in rows]


async def run_outputs(db: Database, workflow_id: str, run_number: int) -> list[dict]:
    """Output documents the agents of one workflow run's steps saved so far (save_document),
    oldest first. Not the steps' own results the engine keeps (source `workflow`): those
    already reach the next step as its previous output."""
    rows = await db.fetchall(
        "SELECT d.id, d.original_name, d.mime_type, d.status, d.size, d.version, length(d.extracted_text) AS chars "
        "FROM documents d JOIN tasks t ON t.id = d.task_id WHERE t.workflow_id = ? AND t.workflow_run_number = ? "
        "AND d.direction = 'output' AND d.source != 'workflow' ORDER BY d.created_at, d.rowid",
        (workflow_id, run_number))
    return [row_to_dict(r) for r in rows]


# ---- output documents ----------------------------------------------------------------------

async def output_of_task(db: Database, task_id: str, original_name: str) -> dict | None:
    """An output document a task already saved under this name (a step's result saved once)."""
    row = await db.fetchone("SELECT id, version FROM documents WHERE task_id = ? AND original_name = ? "
                            "AND direction = 'output'", (task_id, original_name))
    return None if row is None else row_to_dict(row)


# ---- schedule bindings ---------------------------------------------------------------------

def set_schedule_documents_in(conn, schedule_id: str, document_ids: list[str]) -> None:
    """Replace the documents bound to a schedule (every firing's run gets them)."""
    conn.execute("DELETE FROM schedule_documents WHERE schedule_id = ?", (schedule_id,))
    now = now_iso()
    conn.executemany("INSERT INTO schedule_documents (id, schedule_id, document_id, created_at) VALUES (?,?,?,?)",
                     [(new_id(), schedule_id, d, now) for d in dict.fromkeys(document_ids)])


async def schedule_document_ids(db: Database, schedule_id: str) -> list[str]:
    rows = await db.fetchall("SELECT document_id FROM schedule_documents WHERE schedule_id = ? "
                             "ORDER BY created_at, rowid", (schedule_id,))
    return [r[0] for r in rows]

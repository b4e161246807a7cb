"""Read-only views of a workflow: the catalog's /status shape, and its progress stream's lines.

The progress of a run is in agent_logs: the engine's own lines (task_id NULL, agent_type
`workflow-engine`, payload with `workflowId`) and the log lines of its step tasks. One id space
(agent_logs.seq) for both, so a stream resumes exactly with Last-Event-ID.
"""

from __future__ import annotations

import json

from ..db.rows import loads, row_to_dict
from .workflow_runs import ENGINE_AGENT, raw_in, run_history_in, run_in, states_in
from .workflows import parse_stored

_STATE_KEYS = ("stepId", "status", "taskId", "result", "error", "startedAt", "completedAt", "notificationId")
_RUN_STATE = {"running": "running", "paused": "paused", "completed": "completed", "failed": "failed",
              "cancelled": "failed"}


def _state(row: dict | None, step_id: str) -> dict:
    if row is None:
        return {"stepId": step_id, "status": "pending"}
    return {k: row[k] for k in _STATE_KEYS if row.get(k) is not None}


def _documents(conn, task_ids: list[str], direction: str) -> list[dict]:
    if not task_ids:
        return []
    rows = conn.execute(
        f"SELECT id, task_id, original_name, mime_type, storage_path, direction FROM documents "
        f"WHERE task_id IN ({','.join('?' * len(task_ids))}) AND direction = ?", (*task_ids, direction)).fetchall()
    return [row_to_dict(r) for r in rows]


def _loop_state(run: dict, rows: list[dict], step_id: str) -> dict:
    iterations = []
    for row in sorted((r for r in rows if r["stepId"] == step_id and r["iteration"] > 0), key=lambda r: r["iteration"]):
        item = {"iteration": row["iteration"], "taskId": row["taskId"], "status": row["status"],
                "result": row["result"], "error": row["error"], "startedAt": row["startedAt"],
                "completedAt": row["completedAt"]}
        iterations.append({k: v for k, v in item.items() if v is not None})
    status = _RUN_STATE[run["status"]]
    return {"currentIteration": sum(1 for i in iterations if i["status"] in ("completed", "failed")),
            "iterations": iterations, "status": status, "stopReason": run["stopReason"],
            "startedAt": run["startedAt"], "completedAt": run["finishedAt"]}


def status_in(conn, workflow_id: str) -> dict:
    workflow = raw_in(conn, workflow_id)
    definition = parse_stored(workflow["definition"])
    steps = definition["steps"]
    run = run_in(conn, workflow_id, workflow["runNumber"]) if workflow["runNumber"] else None
    # An edit puts a finished workflow back to draft and drops its run state (the catalog's PATCH).
    current = run if run is not None and workflow["status"] != "draft" else None
    rows = states_in(conn, workflow_id, run["runNumber"]) if current else []
    step_documents: dict[str, list[dict]] = {}
    for doc in _documents(conn, [r["taskId"] for r in rows if r["taskId"]], "output"):
        step_documents.setdefault(doc.pop("taskId"), []).append(doc)
    source = definition.get("sourceTaskId")
    parents = [{k: v for k, v in d.items() if k != "taskId"}
               for d in _documents(conn, [source] if isinstance(source, str) else [], "input")]
    out = {"id": workflow["id"], "name": workflow["name"], "status": workflow["status"],
           "projectId": workflow["projectId"], "definition": workflow["definition"],
           "pattern": definition["pattern"], "swarmConfig": definition.get("swarmConfig"),
           "runNumber": workflow["runNumber"], "runHistory": run_history_in(conn, workflow_id),
           "stepDocuments": step_documents, "parentDocuments": parents,
           "run": None if run is None else {k: run[k] for k in ("runNumber", "status", "trigger", "startedAt",
                                                               "finishedAt", "error", "stopReason")}}
    if definition["pattern"] == "loop":
        step_id = steps[0]["id"] if steps and isinstance(steps[0], dict) else None
        return {**out, "loopConfig": definition.get("loopConfig"), "steps": steps,
                "loopState": _loop_state(current, rows, step_id) if current else None}
    by_step = {r["stepId"]: r for r in rows if r["iteration"] == 0}
    states = [_state(by_step.get(s.get("id")), s.get("id")) for s in steps if isinstance(s, dict)]
    started = [i for i, s in enumerate(states) if s["status"] != "pending"]
    workflow_state = None if current is None else {
        "currentStepIndex": max(started, default=0), "stepStates": states,
        "status": _RUN_STATE[current["status"]], "startedAt": current["startedAt"],
        "completedAt": current["finishedAt"]}
    return {**out, "resumeAt": None, "workflowState": workflow_state,
            "steps": [{**s, "state": st} for s, st in zip((s for s in steps if isinstance(s, dict)), states,
                                                           strict=True)]}


# ---- the progress stream -------------------------------------------------------------------

def stream_start_in(conn, workflow_id: str) -> tuple[int, dict[str, tuple[str, int]]]:
    """Where a stream without Last-Event-ID starts (just before the latest run), and which step
    of which run each step task ran."""
    workflow = raw_in(conn, workflow_id)
    run = run_in(conn, workflow_id, workflow["runNumber"]) if workflow["runNumber"] else None
    start = run["logSeq"] if run else (conn.execute("SELECT COALESCE(MAX(seq), 0) FROM agent_logs").fetchone()[0])
    steps = {r["task_id"]: (r["step_id"], r["run_number"]) for r in conn.execute(
        "SELECT task_id, step_id, run_number FROM workflow_step_states WHERE workflow_id = ? AND task_id IS NOT NULL",
        (workflow_id,))}
    return start, steps


def lines_in(conn, workflow_id: str, after: int, upto: int, limit: int) -> list[dict]:
    """Committed lines of this workflow with after < seq <= upto, oldest first."""
    rows = conn.execute(
        "SELECT seq, id, task_id, agent_type, event, payload, timestamp FROM agent_logs "
        "WHERE seq > ?1 AND seq <= ?2 AND ((task_id IS NULL AND agent_type = ?3 "
        "AND json_extract(payload, '$.workflowId') = ?4) "
        "OR task_id IN (SELECT id FROM tasks WHERE workflow_id = ?4)) ORDER BY seq LIMIT ?5",
        (after, upto, ENGINE_AGENT, workflow_id, limit)).fetchall()
    return [{"seq": r["seq"], "id": r["id"], "taskId": r["task_id"], "agentType": r["agent_type"],
             "event": r["event"], "payload": r["payload"], "timestamp": r["timestamp"]} for r in rows]


def progress_event(row: dict, workflow_id: str, steps: dict[str, tuple[str, int]]) -> dict | None:
    """A log line as a progress event of this workflow, or None when it is not one. An engine
    line is its own event; a step task's line is a `step_output`."""
    if row["taskId"] is None:
        if row["agentType"] != ENGINE_AGENT:
            return None
        payload = loads(row["payload"], {})
        if not isinstance(payload, dict) or payload.get("workflowId") != workflow_id:
            return None
        if row["event"] == "step_started" and payload.get("taskId"):
            steps[payload["taskId"]] = (payload.get("stepId"), payload.get("runNumber"))
        return {"event": row["event"], **payload, "timestamp": row["timestamp"]}
    step = steps.get(row["taskId"])
    if step is None:
        return None
    payload = row["payload"]
    try:
        payload = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        pass
    return {"event": "step_output", "workflowId": workflow_id, "runNumber": step[1], "stepId": step[0],
            "taskId": row["taskId"], "logEvent": row["event"], "payload": payload, "timestamp": row["timestamp"]}

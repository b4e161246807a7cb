"""What one firing writes (its task, its count on the schedule), and a burst's common case
written in a handful of statements instead of five per schedule.

A "plain" firing is the common one: a prompt schedule (no workflow, no heartbeat, no built-in
action), on time, not expired, with nothing of it still running. Everything else goes through
the scheduler's one-by-one path, which decides skips, queues and misses.
"""

from __future__ import annotations

from datetime import datetime

from ...db.rows import to_iso
from ...store import schedules as store
from ...store import tasks as task_store
from . import rules
from .scheduled_actions import prompt_and_tools


def task_fields(schedule: dict, number: int, status: str, manual: bool = False) -> tuple[dict, list | None]:
    """The firing's task row, and the tools its built-in action limits it to (None: all)."""
    heartbeat = schedule.get("type") == "heartbeat"
    if heartbeat:
        prompt, tool_names = rules.heartbeat_prompt(schedule), None
    else:
        prompt, tool_names = prompt_and_tools(schedule.get("action"), schedule["prompt"])
    return {
        "title": f"{schedule['name']} — {'manual ' if manual else ''}"
                 f"{'heartbeat' if heartbeat else 'firing'} #{number}"[:200],
        "description": prompt, "status": status, "project_id": schedule.get("projectId"),
        "schedule_id": schedule["id"], "assigned_agent": schedule.get("assignedAgent"),
        "agent_profile": schedule.get("agentProfile"), "model_id": schedule.get("modelId"),
        "source_type": "heartbeat" if heartbeat else "scheduled",
    }, tool_names


def count(schedule: dict, now: datetime, changes: dict) -> dict:
    """Add a firing's count to the schedule's `changes` (a one-shot completes, maxFirings expires)."""
    number = schedule["firingCount"] + 1
    changes.update(firing_count=number, last_fired_at=to_iso(now))
    if not schedule.get("recurs", True):
        changes.update(status="completed", next_fire_at=None)
    elif schedule.get("maxFirings") and number >= schedule["maxFirings"]:
        changes.update(status="expired", next_fire_at=None)
    return changes


def is_missed(schedule: dict, now: datetime) -> bool:
    return (now - rules.parse_iso(schedule["nextFireAt"]) > rules.MISSED_AFTER
            and schedule.get("missedPolicy") != "run_once")


def is_expired(schedule: dict, now: datetime) -> bool:
    return bool(schedule.get("expiresAt")) and schedule["expiresAt"] <= to_iso(now)


def is_plain(schedule: dict, now: datetime, live: set[str]) -> bool:
    return (not live and not schedule.get("workflowId") and schedule.get("type") != "heartbeat"
            and not schedule.get("action") and not is_expired(schedule, now) and not is_missed(schedule, now))


def fire_plain_in(conn, schedules: list[dict], now: datetime, nexts: dict) -> dict[str, dict]:
    """Fire plain schedules: their tasks (`running`), slots and counts in a few statements.
    Returns the task of each schedule whose slot this claimed, by schedule id; a slot claimed
    before keeps its first firing (the task made for it here is deleted)."""
    tasks = task_store.insert_many_in(conn, [task_fields(s, s["firingCount"] + 1, "running")[0] for s in schedules])
    claimed = store.claim_slots_in(conn, [(s, s["nextFireAt"], "started", t["id"]) for s, t in zip(schedules, tasks, strict=True)])
    fired, changes = {}, []
    for schedule, task in zip(schedules, tasks, strict=True):
        change = {"next_fire_at": nexts[schedule["id"]]}
        if task["id"] in claimed:
            fired[schedule["id"]] = task
            count(schedule, now, change)
        else:
            task_store.delete_in(conn, task["id"])
        changes.append((schedule["id"], change))
    store.set_many_in(conn, changes)
    return fired

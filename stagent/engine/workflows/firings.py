"""A schedule made by a workflow's schedule-trigger node fires by starting the workflow.

The scheduler claims the slot (engine/scheduler.py) as `starting`, in the batch transaction
that moves the schedule on; once the workflow engine has answered, the firing becomes
`started` (reason `workflow run #N`), `skipped` (the workflow is still running) or `failed`
(why). A firing still `starting` when the daemon starts again was cut off between its claim
and its outcome by a stop or crash: it is marked `failed` before the scheduler's first pass.
Only a started run counts as a firing (firingCount, lastFiredAt, one-shot, maxFirings).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NamedTuple

from ...db import Database
from ...errors import ApiError, Conflict
from ...store import schedules as schedule_store
from ...store import workflow_triggers as store

log = logging.getLogger("stagent.scheduler")

STARTING = "starting"
CUT_OFF = "the daemon stopped before the workflow start was recorded"


class WorkflowFiring(NamedTuple):
    """A claimed slot of a workflow's schedule: it starts the workflow."""

    schedule_id: str
    workflow_id: str
    slot: str
    at: datetime


def claim_in(conn, schedule: dict, slot: str, now: datetime) -> WorkflowFiring | None:
    """Claim the slot as `starting` (None when it was already claimed: never fire twice)."""
    if not schedule_store.claim_slot(conn, schedule, slot, STARTING):
        return None
    return WorkflowFiring(schedule["id"], schedule["workflowId"], slot, now)


async def start(scheduler, firing: WorkflowFiring) -> None:
    """Start the schedule's workflow; the firing records the run, or why none started."""
    outcome, reason = "failed", "the workflow engine is not running"
    if scheduler.start_workflow is not None:
        try:
            run = await scheduler.start_workflow(firing.workflow_id, trigger="schedule")
            outcome, reason = "started", f"workflow run #{run.get('runNumber')}"
        except Conflict as exc:  # already running: as a task firing's overlap, a skip
            outcome, reason = "skipped", exc.message
        except ApiError as exc:
            reason = exc.message
        except Exception:  # a bug starting one workflow must not stop the batch's other launches
            log.exception("starting workflow %s from schedule %s failed", firing.workflow_id, firing.schedule_id)
            reason = "the workflow could not be started; see the daemon log"

    def record(conn) -> None:
        store.set_firing_outcome_in(conn, firing.schedule_id, firing.slot, outcome, reason)
        schedule = schedule_store.select(conn, firing.schedule_id)
        if outcome == "started" and schedule is not None:
            scheduler.count_firing(conn, schedule, firing.at, {})

    await scheduler.db.write(record)


async def fail_cut_off(db: Database) -> None:
    """At start, before the first pass: firings left `starting` become `failed`."""
    await db.write(lambda conn: store.fail_firings_in(conn, STARTING, CUT_OFF))

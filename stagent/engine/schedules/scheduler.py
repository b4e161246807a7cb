"""The daemon's clock: one asyncio task fires every schedule and the Stan heartbeat on time.

Invariants:
- one loop, no polling: it sleeps until the earliest `next_fire_at` (a partial index keeps that
  one probe) or until `wake()` says schedules changed;
- a slot fires at most once: its `schedule_firings` row (UNIQUE schedule+slot), the task it
  creates (already `running`) and the schedule's next slot commit in one transaction, before
  the run starts; a crash after that commit leaves the slot consumed and the run `interrupted`;
- `next_fire_at` always moves forward, whatever the outcome (fired, skipped, missed, failed),
  so no schedule can wedge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import loads, to_iso
from ...errors import ApiError, Conflict, NotFound
from ...events import EventBus, TaskStatusChanged
from ...store import schedules as store
from ...store import tasks as task_store
from ..logbus import LogBus
from ..supervisor import Supervisor
from ..tasks.runner import Runner
from ..workflows import firings as workflow_firings
from . import firing, rules

log = logging.getLogger("stagent.scheduler")
MAX_SLEEP = 300.0  # re-check now and then: the wall clock can jump (suspend, NTP)
BATCH = 2000
# How long before a slot its schedules are read and their next slots computed (`_prepare`), and
# how late after it that preparation is still used (later, everything is read again).
PREPARE_LEAD = timedelta(seconds=1)
PREPARED_FOR = timedelta(milliseconds=500)

Deliver = Callable[..., Awaitable[object]]
# WorkflowEngine.start(workflow_id, *, trigger=...): how a workflow's schedule starts its workflow.
WorkflowStarter = Callable[..., Awaitable[dict]]
JOBS = ("scheduler", "scheduler-runs", "scheduler-queues", "stan-heartbeat")



def target_key(schedule: dict) -> tuple:
    """What a firing's model depends on: its model, runtime, profile (capabilityOverrides) and
    project (where a project profile is read)."""
    return (schedule.get("modelId"), schedule.get("assignedAgent"), schedule.get("agentProfile"),
            schedule.get("projectId"))

class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def wait(self, seconds: float | None, wake: asyncio.Event) -> None:
        timeout = MAX_SLEEP if seconds is None else min(seconds, MAX_SLEEP)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


@dataclass
class _Prepared:
    at: datetime
    due: list[dict]
    targets: dict
    nexts: dict

    def fits(self, now: datetime) -> bool:
        return self.at <= now < self.at + PREPARED_FOR


class Scheduler:
    def __init__(self, db: Database, runner: Runner, events: EventBus, logbus: LogBus,
                 supervisor: Supervisor, clock=None, deliver: Deliver | None = None,
                 start_workflow: WorkflowStarter | None = None):
        self.db = db
        self.runner = runner
        self.events = events
        self.logbus = logbus
        self.supervisor = supervisor
        self.clock = clock or SystemClock()
        self.deliver = deliver  # ChannelDelivery.deliver, when channels are available
        self.start_workflow = start_workflow  # for schedules with a workflow_id (workflows/firings.py)
        self._wake = asyncio.Event()
        self._stan_next: datetime | None = None
        self._stan_last: datetime | None = None
        self._stan_config_changed = True
        self.fired = 0  # firings started since start (bench and tests read it)
        self._prepared: _Prepared | None = None
        # Other clocked jobs (auto-backup): `await tick(now)` each pass, `next_at()` joins the sleep.
        self.tickers: list = []

    def start(self) -> None:
        self.supervisor.start("scheduler", self._loop())
        self.supervisor.start("scheduler-runs", self._follow_runs())
        self.supervisor.start("scheduler-queues", self._resume_queues())

    async def stop(self) -> None:
        """Nothing fires, follows a run's end or runs the Stan heartbeat any more."""
        for name in JOBS:
            await self.supervisor.cancel(name)

    async def _resume_queues(self) -> None:
        """Queued firings whose run ahead was ended by a restart get no end event: start them."""
        for schedule_id in await store.with_orphaned_queue(self.db):
            await self._start_queued(schedule_id)

    def wake(self, *, heartbeat_config_changed: bool = False) -> None:
        """Schedules or the heartbeat configuration changed: recompute the next wake-up."""
        if heartbeat_config_changed:
            self._stan_config_changed = True
        self._wake.set()

    def set_clock(self, clock) -> None:
        self.clock = clock
        self._stan_last = None
        self.wake(heartbeat_config_changed=True)

    # ---- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        await workflow_firings.fail_cut_off(self.db)
        while True:
            self._wake.clear()
            try:
                now = self.clock.now()
                await self.fire_due(now)
                await self._stan_tick(now)
                for ticker in self.tickers:
                    await ticker.tick(now)
                next_at = await self._next_wake()
                if next_at is not None and next_at - self.clock.now() > PREPARE_LEAD:
                    next_at -= PREPARE_LEAD  # wake a little early, then prepare for the slot
                elif next_at is not None:
                    await self._prepare(next_at)
            except Exception:  # pragma: no cover - the clock must keep ticking
                log.exception("scheduler pass failed")
                next_at = self.clock.now() + timedelta(seconds=5)
            delay = None if next_at is None else max(0.0, (next_at - self.clock.now()).total_seconds())
            await self.clock.wait(delay, self._wake)

    async def _next_wake(self) -> datetime | None:
        earliest = await store.earliest_fire_at(self.db)
        candidates = [rules.parse_iso(earliest)] if earliest else []
        if self._stan_next is not None:
            candidates.append(self._stan_next)
        candidates += [at for at in (t.next_at() for t in self.tickers) if at is not None]
        return min(candidates) if candidates else None

    # ---- firing ----------------------------------------------------------------------------

    async def fire_due(self, now: datetime) -> int:
        """Fire every active schedule due at `now`; returns how many runs started."""
        started = 0
        prepared, self._prepared = self._prepared, None
        while True:
            if prepared is not None and prepared.fits(now):
                due, targets, nexts, prepared = prepared.due, prepared.targets, prepared.nexts, None
                fresh = False  # read before the slot: each is checked unchanged in the transaction
            else:
                due = await store.due(self.db, to_iso(now), BATCH)
                if not due:
                    return started
                targets = await self._targets(due)
                nexts = self._next_slots(due, now)  # cron work stays out of the write transaction
                fresh = True
            launches = await self.db.write(
                lambda conn, due=due, targets=targets, nexts=nexts, fresh=fresh:
                    self._fire_batch_in(conn, due, now, targets, nexts, fresh))
            for launch in filter(None, launches):
                started += 1
                if isinstance(launch, workflow_firings.WorkflowFiring):
                    await workflow_firings.start(self, launch)
                else:
                    await self.runner.start_claimed(*launch)
            self.fired += started
            if fresh and len(due) < BATCH:
                return started

    async def _prepare(self, at: datetime) -> None:
        """Read and compute, while waiting for `at`, what firing the schedules due then needs (the
        rows, models, next slots), so a burst's slot is spent only on its write transaction."""
        due = await store.due(self.db, to_iso(at), BATCH)
        self._prepared = _Prepared(at, due, await self._targets(due), self._next_slots(due, at)) if due else None

    def _fire_batch_in(self, conn, due: list[dict], now: datetime, targets: dict, nexts: dict,
                       fresh: bool) -> list:
        if not fresh:  # prepared rows: fire only those no edit or earlier firing has changed since
            current = store.due_versions_in(conn, to_iso(now))
            due = [s for s in due if current.get(s["id"]) == (s["nextFireAt"], s["updatedAt"])]
        live = store.live_statuses_of(conn, [s["id"] for s in due])
        plain = [s for s in due if firing.is_plain(s, now, live.get(s["id"], set()))]
        fired = firing.fire_plain_in(conn, plain, now, nexts) if plain else {}
        plain_ids = {s["id"] for s in plain}
        launches = [(fired[s["id"]], *targets[target_key(s)]) for s in plain if s["id"] in fired]
        return launches + [self._fire_in(conn, s, now, targets, nexts[s["id"]], live.get(s["id"], set()))
                           for s in due if s["id"] not in plain_ids]

    @staticmethod
    def _next_slots(due: list[dict], now: datetime) -> dict[str, str | None]:
        by_rule: dict = {}  # schedules due together often share a cron: compute each once
        nexts = {}
        for schedule in due:
            key = (schedule["cronExpression"], schedule.get("timeZone"), schedule.get("type"),
                   schedule.get("activeHoursStart"), schedule.get("activeHoursEnd"), schedule.get("activeTimezone"))
            if key not in by_rule:
                by_rule[key] = rules.next_slot(schedule, now)
            nexts[schedule["id"]] = by_rule[key]
        return nexts

    async def _targets(self, due: list[dict]) -> dict:
        """The model of each due schedule's task, by target_key (its profile may name one)."""
        targets = {}
        for schedule in due:
            key = target_key(schedule)
            if key not in targets:
                targets[key] = await self.runner.target_or_error(*key)
        return targets

    def _fire_in(self, conn, schedule: dict, now: datetime, targets: dict, next_slot: str | None,
                 live: set[str]):
        """Decide and record one due schedule inside the batch transaction."""
        slot = schedule["nextFireAt"]
        changes: dict = {"next_fire_at": next_slot}
        if firing.is_expired(schedule, now):
            store.set_in(conn, schedule["id"], {"status": "expired", "next_fire_at": None})
            return None
        if firing.is_missed(schedule, now):
            store.claim_slot(conn, schedule, slot, "missed", reason="the daemon was not running at this time")
            store.set_in(conn, schedule["id"], changes)
            return None
        if schedule.get("workflowId"):  # overlaps are the workflow engine's 409, recorded as skipped
            workflow_firing = workflow_firings.claim_in(conn, schedule, slot, now)
            store.set_in(conn, schedule["id"], changes)
            return workflow_firing
        skip_reason = self._skip_reason(schedule, live, now, changes)
        queue = bool(live)  # only reached with the queue policy
        if skip_reason:
            store.claim_slot(conn, schedule, slot, "skipped", reason=skip_reason)
        task = None if skip_reason else self._record_firing(
            conn, schedule, slot, now, changes, outcome="queued" if queue else "started",
            status="queued" if queue else "running")
        if task is None:
            store.set_in(conn, schedule["id"], changes)
            return None
        if queue:
            return None
        return (task, *targets[target_key(schedule)])

    def _record_firing(self, conn, schedule: dict, slot: str, now: datetime, changes: dict, *, outcome: str,
                       status: str, manual: bool = False) -> dict | None:
        """Claim the slot with the firing's task and count it (one-shots complete, maxFirings
        expires); None when the slot was already claimed (its task is not kept)."""
        task = self._create_task(conn, schedule, schedule["firingCount"] + 1, status, manual=manual)
        if not store.claim_slot(conn, schedule, slot, outcome, task_id=task["id"]):
            task_store.delete_in(conn, task["id"])
            return None
        self.count_firing(conn, schedule, now, changes)
        return task

    @staticmethod
    def count_firing(conn, schedule: dict, now: datetime, changes: dict) -> None:
        store.set_in(conn, schedule["id"], firing.count(schedule, now, changes))

    async def fire_now(self, schedule_id: str) -> dict:
        """A manual firing ("run now"): its own slot, counted like any other; 409 while one runs,
        or when the schedule has completed or expired."""
        schedule = await store.get(self.db, schedule_id)
        if schedule.get("workflowId"):
            raise Conflict("This schedule starts a workflow; run it with POST /api/workflows/"
                           f"{schedule['workflowId']}/execute.")
        target, error = (await self._targets([schedule]))[target_key(schedule)]
        now = self.clock.now()

        def fire(conn) -> dict:
            fresh = store.select(conn, schedule_id)
            if fresh is None:
                raise NotFound("Schedule not found")
            if fresh["status"] not in ("active", "paused"):
                raise Conflict(f"The schedule is {fresh['status']}; it fires no more.")
            if store.live_statuses(conn, schedule_id):
                raise Conflict("A firing of this schedule is still running; wait for it to finish or cancel it.")
            slot = f"manual:{to_iso(now)}"
            task = self._record_firing(conn, fresh, slot, now, {}, outcome="manual", status="running", manual=True)
            if task is None:  # the same millisecond's manual slot, already claimed
                raise Conflict("This schedule was fired a moment ago; try again.")
            return task

        task = await self.db.write(fire)
        await self.runner.start_claimed(task, target, error)
        return task

    def _skip_reason(self, schedule: dict, live: set[str], now: datetime, changes: dict) -> str | None:
        if live and schedule.get("overlapPolicy", "skip") == "skip":
            return "the previous firing is still running"
        if "queued" in live:  # the queue policy keeps one firing waiting, not one per slot
            return "a firing is already queued"
        if schedule.get("type") != "heartbeat":
            return None
        if not rules.in_active_hours(schedule, now):
            return "outside active hours"
        if not schedule.get("heartbeatChecklist"):
            return "empty checklist"
        reset_at = schedule.get("heartbeatBudgetResetAt")
        if reset_at is None or reset_at <= to_iso(now):
            zone = schedule.get("activeTimezone") or "UTC"
            changes.update(heartbeat_spent_today=0, heartbeat_budget_reset_at=to_iso(rules.next_midnight(zone, now)))
            schedule["heartbeatSpentToday"] = 0
        budget = schedule.get("heartbeatBudgetPerDay")
        if budget and schedule.get("heartbeatSpentToday", 0) >= budget:
            return "daily heartbeat budget spent"
        return None

    def _create_task(self, conn, schedule: dict, number: int, status: str, manual: bool = False) -> dict:
        fields, tool_names = firing.task_fields(schedule, number, status, manual)
        task = task_store.insert_task(conn, fields)
        if tool_names is not None:
            store.set_tool_names(conn, task["id"], tool_names)
        return task

    # ---- after a run -----------------------------------------------------------------------

    async def _follow_runs(self) -> None:
        with self.events.subscribe(TaskStatusChanged) as events:
            while True:
                event = await events.get()
                if event.status not in task_store.TERMINAL:
                    continue
                try:
                    await self._run_finished(event.task_id)
                except Exception:  # pragma: no cover - one bad run must not stop the follow-up
                    log.exception("after-run handling failed for task %s", event.task_id)

    async def _run_finished(self, task_id: str) -> None:
        row = await store.finished_run(self.db, task_id)
        if row is None:
            return
        failed = row["status"] == "failed"
        # A heartbeat's spend counts against its day whatever the outcome of the run.
        await self.db.write(lambda conn: store.record_run_end_in(
            conn, row["schedule_id"], failed=failed, reason=row["result"],
            cost=row["cost"] if row["type"] == "heartbeat" else 0))
        action_needed = True
        if row["type"] == "heartbeat" and row["status"] == "completed":
            action_needed = await self._record_heartbeat(row)
        await self._deliver(row, action_needed)
        await self._start_queued(row["schedule_id"])

    async def _record_heartbeat(self, row) -> bool:
        action_needed, items, parsed = rules.heartbeat_verdict(row["result"])
        flagged = [i.get("id") for i in items if i.get("status") == "action_needed"]
        sentence = (f"Action needed on {', '.join(map(str, flagged)) or 'the checklist'}" if action_needed
                    else "All checklist items ok; nothing to do")
        if not parsed:
            sentence += " (the answer was not the JSON asked for, so it counts as action needed)"
        at = to_iso(self.clock.now())

        def record(conn, emit):
            store.record_verdict_in(conn, row["schedule_id"], action_needed=action_needed, at=at)
            emit(row["id"], "heartbeat", "heartbeat_action" if action_needed else "heartbeat_suppressed",
                 {"message": sentence, "items": items})

        await self.logbus.transact(record)
        return action_needed

    async def _deliver(self, row, action_needed: bool) -> None:
        channels = [c for c in loads(row["delivery_channels"], None) or [] if isinstance(c, str)]
        if not channels or self.deliver is None or (row["type"] == "heartbeat" and not action_needed):
            return
        outcome = {"completed": "completed", "failed": "failed", "cancelled": "was cancelled"}[row["status"]]
        await self.deliver(channels, f"{row['title']} {outcome}", (row["result"] or "(no output)")[:3500],
                           metadata={"taskId": row["id"], "scheduleId": row["schedule_id"], "status": row["status"]},
                           source=f"schedule:{row['schedule_id']}")

    async def _start_queued(self, schedule_id: str) -> None:
        if await store.any_running(self.db, schedule_id):
            return
        task_id = await store.oldest_queued_task(self.db, schedule_id)
        if task_id is not None:
            with contextlib.suppress(ApiError):  # a user may have started or cancelled it meanwhile
                await self.runner.execute(task_id)

    # ---- the Stan heartbeat ------------------------------------------------------------------

    async def _stan_tick(self, now: datetime) -> None:
        from .heartbeat import load_config, run_stan_heartbeat

        if self._stan_last is None:
            self._stan_last = now  # the first tick comes one interval after start
        if self._stan_config_changed:  # re-plan from the last tick, not from when we noticed
            self._stan_config_changed = False
            config = await load_config(self.db)
            self._stan_next = (self._stan_last + timedelta(minutes=config["intervalMinutes"])
                               if config["enabled"] else None)
        if self._stan_next is None or now < self._stan_next:
            return
        config = await load_config(self.db)
        self._stan_last = now
        self._stan_next = (now + timedelta(minutes=config["intervalMinutes"])) if config["enabled"] else None
        if config["enabled"] and not self.supervisor.running("stan-heartbeat"):
            self.supervisor.start("stan-heartbeat", run_stan_heartbeat(
                self.db, trigger="scheduled", models_probe=True, events=self.events, now=self.clock.now(),
                on_alert=self._alert))

    async def _alert(self, channel_ids: list[str], title: str, body: str) -> None:
        if self.deliver is not None:
            await self.deliver(channel_ids, title, body, source="stan-heartbeat")

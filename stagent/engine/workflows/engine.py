"""The Workflows engine: starts, pauses, resumes, cancels, retries and recovers workflow runs.

Public interface (the blueprints/triggers code calls `start`):

    await app.state.workflows.start(workflow_id, *, trigger: str = "manual",
                                    input_text: str | None = None) -> dict
        -> {"status": "started", "workflowId": ..., "runNumber": n}
        raises NotFound / Conflict("Workflow is already running") / Invalid (bad definition).
        A paused workflow resumes (same run number). `input_text` is put before the prompt
        of the first step that runs one, as "Trigger input: …".

Each run is driven by one coroutine under the supervisor (`workflow-run:<id>:<n>`), which runs
the pattern (engine/workflow_patterns.py) over a Run (engine/workflow_run.py). Lifecycle
changes (start, pause point, finish, cancel, retry, delete) take the workflow's lock, so a resume
can never slip between a paused run's decision to stop and its exit. Each workflow has its own:
twenty workflows started at once commit their starts in one log-bus batch, not one after another.

Restart: active workflows are driven again at boot; finished steps are not re-run, the step a
crash cut off is retried or failed (`definition.onInterrupt`: retry | fail). A graceful stop
leaves the state as it is: the runner ends step tasks as `interrupted` and the run continues
at the next start.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from ...db import Database
from ...db.rows import now_iso, row_to_dict
from ...errors import Conflict, NotFound
from ...events import EventBus, NotificationChanged, TaskStatusChanged
from ...store import notifications as notification_store
from ...store import tasks as task_store
from ...store import workflow_runs as store
from ..governance.permissions import Permissions
from ..keyed_locks import KeyedLocks
from ..logbus import LogBus
from ..supervisor import Supervisor
from ..tasks.runner import Runner
from . import patterns as patterns
from .definition import validate_definition
from .run import Run, RunInterrupted, RunPaused, WorkflowFailed

log = logging.getLogger("stagent.workflows")


class WorkflowEngine:
    def __init__(self, db: Database, runner: Runner, events: EventBus, logbus: LogBus, supervisor: Supervisor,
                 permissions: Permissions):
        self.db = db
        self.runner = runner
        self.events = events
        self.logbus = logbus
        self.supervisor = supervisor
        self.permissions = permissions
        self._locks = KeyedLocks()  # one per workflow id
        self._drivers: dict[str, asyncio.Task] = {}       # workflow id -> the coroutine driving its run
        self._task_waiters: dict[str, asyncio.Future] = {}  # step task id -> resolved when it ends
        self._names = itertools.count(1)

    # ---- lifecycle of the engine ---------------------------------------------------------------

    def open(self) -> WorkflowEngine:
        """Follow task endings (subscribed now, before any step can start)."""
        subscription = self.events.subscribe(TaskStatusChanged)
        self.supervisor.start("workflow-tasks", self._follow_tasks(subscription))
        return self

    async def recover(self) -> None:
        """At boot: drive every active workflow again; close checkpoint requests nobody will
        wait on (their workflow is gone or no longer running)."""
        for workflow_id in await store.active_ids(self.db):
            async with self._locks.hold(workflow_id):
                self._spawn(workflow_id)
        statuses = await store.statuses(self.db)
        for request in await self.db.read(store.open_checkpoints_in):
            workflow_id = request["workflowId"]
            if isinstance(workflow_id, str) and statuses.get(workflow_id) not in ("active", "paused"):
                await self._close_request(request["id"], "The workflow is no longer running")

    async def stop(self) -> None:
        """Shutdown: stop driving (the state stays; runs continue at the next start)."""
        drivers = list(self._drivers.values())
        self._drivers.clear()
        for driver in drivers:
            driver.cancel()
        if drivers:
            await asyncio.wait(drivers, timeout=5)

    # ---- what the API and triggers ask ------------------------------------------------------------

    async def start(self, workflow_id: str, *, trigger: str = "manual", input_text: str | None = None) -> dict:
        async with self._locks.hold(workflow_id):
            log_seq = self.logbus.last_seq  # every line of this run comes after it

            def claim(conn, emit):
                workflow, resumed = store.claim_in(conn, workflow_id, trigger=trigger, input_text=input_text,
                                                   log_seq=log_seq, validate=validate_definition)
                emit(None, store.ENGINE_AGENT, "run_resumed" if resumed else "run_started",
                     {"workflowId": workflow_id, "runNumber": workflow["runNumber"], "trigger": trigger,
                      "pattern": workflow["definition"]["pattern"]})
                return workflow

            workflow = await self.logbus.transact(claim)
            if workflow_id not in self._drivers:
                self._spawn(workflow_id)
        return {"status": "started", "workflowId": workflow_id, "runNumber": workflow["runNumber"]}

    async def pause(self, workflow_id: str) -> dict:
        """The run stops before its next step (a running step finishes first)."""
        async with self._locks.hold(workflow_id):
            def write(conn):
                if store.fetch_in(conn, workflow_id)["status"] != "active":
                    raise Conflict("Can only pause an active workflow")
                store.set_status_in(conn, workflow_id, "paused")

            await self.db.write(write)
        return {"id": workflow_id, "status": "paused"}

    async def cancel(self, workflow_id: str) -> dict:
        """Stop every running step and end the run as cancelled (the workflow: failed)."""
        async with self._locks.hold(workflow_id):
            workflow = await self.db.read(lambda conn: store.fetch_in(conn, workflow_id))
            if workflow["status"] not in ("active", "paused"):
                raise Conflict("Workflow is not running")
            await self._stop_driver(workflow_id)
            number = workflow["runNumber"]
            # A step the driver was launching (its task, or its checkpoint request, queued in
            # the log bus) commits even though the driver is gone: wait for it, so it is seen.
            await self.logbus.flush()
            for state in await store.states(self.db, workflow_id, number):
                if state["status"] == "running" and state["taskId"]:
                    await self.runner.cancel(state["taskId"])
            await self._close_requests(workflow_id, "The workflow was cancelled")
            loop = workflow["definition"]["pattern"] == "loop"

            def write(conn, emit):
                store.fail_live_steps_in(conn, workflow_id, number, "Cancelled")
                store.set_status_in(conn, workflow_id, "failed")
                store.set_run_in(conn, workflow_id, number, status="cancelled", finished_at=now_iso(),
                                 error="Cancelled by user", stop_reason="human_cancel" if loop else None)
                emit(None, store.ENGINE_AGENT, "run_finished", {
                    "workflowId": workflow_id, "runNumber": number, "status": "cancelled",
                    "error": "Cancelled by user", **({"stopReason": "human_cancel"} if loop else {})})

            await self.logbus.transact(write)
        return {"id": workflow_id, "status": "failed", "runNumber": number, "runStatus": "cancelled"}

    async def retry_step(self, workflow_id: str, step_id: str) -> None:
        """Run a failed step again and carry on from it. NotFound for a step the definition does
        not have; Conflict, with why (also logged as a `retry_refused` line), when nothing can be
        retried: the workflow runs, has no run state, or the step did not fail."""
        async with self._locks.hold(workflow_id):
            workflow = await self.db.read(lambda conn: store.fetch_in(conn, workflow_id))
            step_ids = [s.get("id") for s in (workflow["definition"] or {}).get("steps") or []]
            if step_id not in step_ids:
                raise NotFound(f"Step {step_id} not found: this workflow's steps are "
                               f"{', '.join(str(s) for s in step_ids) or '(none)'}")
            number = workflow["runNumber"]
            states = await store.states(self.db, workflow_id, number) if number else []
            if workflow["status"] in ("active", "paused"):
                keys: list | str = ("Cannot retry a step while the workflow is active: wait for the run to end "
                                     "or cancel it")
            elif not states or workflow["status"] == "draft":  # an edit dropped the run state
                keys = f"Workflow has no execution state: start a run with POST /api/workflows/{workflow_id}/execute"
            else:
                keys = _retry_keys(workflow["definition"], states, step_id)
            line = {"workflowId": workflow_id, "runNumber": number, "stepId": step_id}
            if isinstance(keys, str):
                await self.logbus.transact(lambda conn, emit: emit(
                    None, store.ENGINE_AGENT, "retry_refused", {**line, "message": keys}))
                raise Conflict(keys)

            def write(conn, emit):
                store.reset_steps_in(conn, workflow_id, number, keys)
                store.set_status_in(conn, workflow_id, "active")
                store.set_run_in(conn, workflow_id, number, status="running", finished_at=None, error=None,
                                 stop_reason=None)
                emit(None, store.ENGINE_AGENT, "step_retry", line)

            await self.logbus.transact(write)
            self._spawn(workflow_id)

    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow with its step tasks (their logs and approvals), stopping any
        step still running (a paused workflow's)."""
        async with self._locks.hold(workflow_id):
            workflow = await self.db.read(lambda conn: store.fetch_in(conn, workflow_id))
            if workflow["status"] == "active":
                raise Conflict("Cannot delete an active workflow — pause or wait for completion")
            await self._stop_driver(workflow_id)
            await self.logbus.flush()  # a step the driver was launching commits first (see cancel)
            for task_id in await store.running_task_ids(self.db, workflow_id):
                await self.runner.stop(task_id, "cancelled")
            await self._close_requests(workflow_id, "The workflow was deleted")
            for task_id in await self.db.write(lambda conn: store.delete_in(conn, workflow_id)):
                self.logbus.close_subscribers(task_id)

    # ---- what a Run asks --------------------------------------------------------------------------

    async def pause_point(self, run: Run, stop_reason: str | None) -> None:
        if not await run.is_paused():
            return
        async with self._locks.hold(run.workflow_id):
            current = asyncio.current_task()
            if not await run.is_paused() or self._drivers.get(run.workflow_id) is not current:
                return
            del self._drivers[run.workflow_id]  # a resume from now on starts a new driver

            def write(conn, emit):
                store.set_run_in(conn, run.workflow_id, run.number, status="paused", stop_reason=stop_reason)
                emit(None, store.ENGINE_AGENT, "run_paused", {"workflowId": run.workflow_id, "runNumber": run.number,
                                                              **({"stopReason": stop_reason} if stop_reason else {})})

            await self.logbus.transact(write)
        raise RunPaused()

    async def task_finished(self, task_id: str) -> dict | None:
        """The task once it has ended (None if it was deleted). Registered before the status is
        read: an ending committed before is in the row, one after wakes the waiter."""
        waiter = asyncio.get_running_loop().create_future()
        self._task_waiters[task_id] = waiter
        try:
            task = await self.db.read(lambda conn: store.task_row_in(conn, task_id))
            if task is not None and task["status"] not in task_store.TERMINAL:
                await waiter
                task = await self.db.read(lambda conn: store.task_row_in(conn, task_id))
            return None if task is None else row_to_dict(task)
        finally:
            if self._task_waiters.get(task_id) is waiter:
                del self._task_waiters[task_id]

    # ---- driving ------------------------------------------------------------------------------------

    def _spawn(self, workflow_id: str) -> None:
        name = f"workflow-run:{workflow_id}:{next(self._names)}"
        self._drivers[workflow_id] = self.supervisor.start(name, self._drive(workflow_id))

    async def _stop_driver(self, workflow_id: str) -> None:
        driver = self._drivers.pop(workflow_id, None)
        if driver is not None and not driver.done():
            driver.cancel()
            await asyncio.wait({driver}, timeout=5)

    async def _drive(self, workflow_id: str) -> None:
        run = None
        try:
            run = await self._load(workflow_id)
            if run is None:  # active without a run record (not written by this engine): nothing to resume
                await self._abandon(workflow_id)
                return
            stop_reason = await patterns.execute(run)
            await self._finish(run, "completed", stop_reason=stop_reason)
        except (RunPaused, RunInterrupted):
            pass  # paused: recorded at the pause point; interrupted: the daemon is stopping
        except WorkflowFailed as exc:
            await self._finish(run, "failed", error=exc.message, stop_reason=exc.stop_reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must still end the run, never leave it active
            log.exception("workflow %s crashed", workflow_id)
            if run is not None:
                await self._finish(run, "failed", error=f"internal error: {type(exc).__name__}: {exc}")

    async def _load(self, workflow_id: str) -> Run | None:
        def read(conn):
            workflow = store.fetch_in(conn, workflow_id)
            number = workflow["runNumber"]
            return workflow, store.run_in(conn, workflow_id, number), store.states_in(conn, workflow_id, number)

        workflow, run, states = await self.db.read(read)
        if run is None:
            return None
        documents = await store.bound_documents(self.db, workflow_id, workflow["definition"]["steps"])
        return Run(self, workflow, run, states, documents)

    async def _finish(self, run: Run, status: str, *, error: str | None = None, stop_reason: str | None = None) -> None:
        async with self._locks.hold(run.workflow_id):
            if self._drivers.get(run.workflow_id) is not asyncio.current_task():
                return  # cancelled or deleted meanwhile: whoever did it recorded the end
            del self._drivers[run.workflow_id]

            def write(conn, emit):
                store.set_status_in(conn, run.workflow_id, "completed" if status == "completed" else "failed")
                store.set_run_in(conn, run.workflow_id, run.number, status=status, finished_at=now_iso(),
                                 error=error, stop_reason=stop_reason)
                line = {"workflowId": run.workflow_id, "runNumber": run.number, "status": status, "error": error,
                        "stopReason": stop_reason}
                emit(None, store.ENGINE_AGENT, "run_finished", {k: v for k, v in line.items() if v is not None})

            await self.logbus.transact(write)

    async def _abandon(self, workflow_id: str) -> None:
        async with self._locks.hold(workflow_id):
            if self._drivers.get(workflow_id) is asyncio.current_task():
                del self._drivers[workflow_id]
                await self.db.write(lambda conn: store.set_status_in(conn, workflow_id, "failed"))

    async def _follow_tasks(self, subscription) -> None:
        with subscription:
            while True:
                event = await subscription.get()
                if event.status in task_store.TERMINAL or event.status == task_store.DELETED:
                    waiter = self._task_waiters.get(event.task_id)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

    async def _close_requests(self, workflow_id: str, message: str) -> None:
        for request in await self.db.read(lambda conn: store.open_checkpoints_in(conn, workflow_id)):
            await self._close_request(request["id"], message)

    async def _close_request(self, notification_id: str, message: str) -> None:
        for row in await notification_store.close_open(self.db, {"behavior": "deny", "message": message},
                                                       notification_id=notification_id):
            self.events.publish(NotificationChanged(row["id"], None))


def _retry_keys(definition: dict, states: list[dict], step_id: str) -> list[tuple[str, int]] | str:
    """The step states a retry of `step_id` clears (the original's rules), or why it cannot."""
    by_key = {(s["stepId"], s["iteration"]): s for s in states}
    not_failed = f"Step {step_id} is not in failed state: only a failed step can be retried"
    if definition["pattern"] == "loop":
        failed = [key for key, s in by_key.items() if key[0] == step_id and s["status"] == "failed"]
        return failed or not_failed
    target = by_key.get((step_id, 0))
    if target is None or target["status"] != "failed":
        return not_failed
    steps = definition["steps"]
    keys = [(step_id, 0)]
    if definition["pattern"] == "parallel":
        synthesis = next(s["id"] for s in steps if s.get("dependsOn"))
        if synthesis != step_id:
            keys.append((synthesis, 0))
    elif definition["pattern"] == "swarm":
        if step_id == steps[0]["id"]:  # a new mayor output: the whole swarm again
            keys = list(by_key)
        elif step_id == steps[-1]["id"]:
            if any(by_key.get((w["id"], 0), {}).get("status") != "completed" for w in steps[1:-1]):
                return "All swarm workers must complete before retrying the refinery"
        else:
            keys.append((steps[-1]["id"], 0))
    return keys

"""Executes a task as an LLM conversation with tools (the agent loop, with the task's
TaskSurface), streaming everything into agent_logs; owns the task lifecycle: execute, resume,
cancel, update, delete, and recovery after a restart.

Invariants:
- a task reaches a terminal status exactly once per run; a cancelled task is never
  overwritten by the run's own ending;
- the terminal log line (`completed`, `error`, `cancelled`) commits in the same transaction as
  the status, so a client never sees one without the other;
- the conversation is saved after every step, so resume continues where the run stopped.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ...db import Database
from ...db.rows import dumps, now_iso
from ...errors import ApiError, Invalid
from ...events import EventBus, NotificationCreated, TaskStatusChanged
from ...sanitize import redact
from ...store import notifications as notification_store
from ...store import projects as project_store
from ...store import sessions as session_store
from ...store import tasks as task_store
from ..agent import (
    llm,
    toolbox,  # noqa: F401  (registers every built-in tool family)
    tools,
)
from ..agent.loop import AgentLoop, Usage
from ..agent.mcp_client import McpClients
from ..agent.pricing import PRICING_VERSION
from ..agent.providers import ModelTarget, resolve_model
from ..governance.budgets import BudgetExceeded, Budgets
from ..governance.permissions import Permissions
from ..logbus import LogBus
from ..profiles import hooks as profile_hooks
from ..profiles import runs as profile_runs
from ..profiles.registry import ProfileRegistry
from ..schedules import scheduled_actions  # noqa: F401  (registers the built-in actions' tools)
from ..supervisor import Supervisor
from .session import SYSTEM_PROMPT, TaskSurface, load_session, unanswered_calls

log = logging.getLogger("stagent.runner")

DEFAULT_MAX_STEPS = 50


class Runner:
    def __init__(self, db: Database, logbus: LogBus, events: EventBus, supervisor: Supervisor, *,
                 permissions: Permissions, budgets: Budgets, max_steps: int = DEFAULT_MAX_STEPS,
                 retry_base_delay: float = 0.5, request_timeout: float = 120.0, mcp: McpClients | None = None):
        # The app's single Permissions and Budgets: answers and spend are tracked in them.
        self.db = db
        self.mcp = mcp  # MCP servers whose tools runs are offered (None: none)
        self.permissions = permissions
        self.budgets = budgets
        self.logbus = logbus
        self.events = events
        self.supervisor = supervisor
        self.max_steps = max_steps
        self.retry_base_delay = retry_base_delay
        self.request_timeout = request_timeout
        self._stop_reason: dict[str, str] = {}
        self._waiting: set[str] = set()  # runs paused on a permission request
        self.profiles = ProfileRegistry(db)  # agent profiles shape runs (engine/profiles/runs.py)

    @staticmethod
    def run_name(task_id: str) -> str:
        return f"task-run:{task_id}"

    async def target_for(self, task: dict) -> ModelTarget:
        model_id = task.get("modelId")
        if not model_id and task.get("agentProfile") and task["agentProfile"] != "auto":
            profile = await self.profiles.find(task["agentProfile"], task.get("projectId"))
            model_id = profile_runs.model_override(profile, task.get("assignedAgent"))
        return await resolve_model(self.db, model_id=model_id, runtime_id=task.get("assignedAgent"))

    async def stop(self, task_id: str, reason: str = "cancelled") -> bool:
        """Stop a live run; `reason` is cancelled (by the user) or interrupted (shutdown)."""
        if not self.supervisor.running(self.run_name(task_id)):
            return False
        self._stop_reason[task_id] = reason
        return await self.supervisor.cancel(self.run_name(task_id))

    # ---- what the task routes ask for ------------------------------------------------------

    async def execute(self, task_id: str, *, check_budget: bool = False) -> None:
        """Claim a queued task and start its run (fire-and-forget). With `check_budget`, a cap
        already reached refuses it (BudgetExceeded, 429) after the 404 and 400 checks."""
        task = await task_store.get_task_row(self.db, task_id)
        if task["status"] != "queued":
            raise Invalid(f"Task must be queued to execute, current status: {task['status']}")
        if check_budget:
            try:
                await self.budgets.check_task(task)
            except BudgetExceeded as exc:
                await self._refuse_start(task, exc)
                raise
        try:
            # an unknown or runtime-unfit profile; `auto` or none is picked at the run's start
            await self.profiles.check_reference(task.get("agentProfile"), task.get("assignedAgent"),
                                                task.get("projectId"), flatten=False)
            target = await self.target_for(task)
        except Invalid as exc:  # as the original does: a task that cannot start is marked failed
            await task_store.claim(self.db, task_id, ("queued",))
            await self.set_status(task_id, "failed", exc.message, agent=_agent(task),
                                  payload={"message": exc.message})
            raise
        self._launch(await task_store.claim(self.db, task_id, ("queued",)), target, resume=False)

    async def _refuse_start(self, task: dict, exc: BudgetExceeded) -> None:
        """A cap refused the start: the task fails with the reason in its log, as a run the
        budget stops does, so it does not sit queued as if it would run; Retry runs it once the
        cap is raised (decision 011)."""
        try:
            await task_store.claim(self.db, task["id"], ("queued",))
        except Invalid:  # another caller took it meanwhile: its run decides
            return
        message = f"budget_exceeded: {exc.message}"
        await self.set_status(task["id"], "failed", message, agent=_agent(task),
                              payload={"message": message, "code": "budget_exceeded", **exc.extra})

    async def resume(self, task_id: str, *, check_budget: bool = False) -> None:
        """Continue a failed or cancelled task's saved conversation (fire-and-forget); with
        `check_budget` as execute()."""
        task = await task_store.get_task_row(self.db, task_id)
        if not task["sessionId"]:
            raise Invalid("Task has no agent session to resume; use Retry instead (queue it and execute).")
        if task["resumeCount"] >= task_store.MAX_RESUMES:
            raise Invalid(f"Task has been resumed {task_store.MAX_RESUMES} times; use Retry instead.")
        if task["status"] not in ("failed", "cancelled"):
            raise Invalid(f"Task cannot be resumed from status: {task['status']}")
        if check_budget:
            await self.budgets.check_task(task)
        target = await self.target_for(task)
        task = await task_store.claim(self.db, task_id, ("failed", "cancelled"), count_resume=True)
        self._launch(task, target, resume=True)

    async def target_or_error(self, model_id: str | None, runtime_id: str | None, profile_id: str | None = None,
                              project_id: str | None = None) -> tuple[ModelTarget | None, str | None]:
        """(the model a task with these fields runs on, None), or (None, why it cannot run). A
        profile's `capabilityOverrides.modelId` applies when no model is named (as for tasks)."""
        try:
            return await self.target_for({"modelId": model_id, "assignedAgent": runtime_id,
                                          "agentProfile": profile_id, "projectId": project_id}), None
        except ApiError as exc:
            return None, exc.message

    async def start_claimed(self, task: dict, target: ModelTarget | None, error: str | None = None) -> None:
        """Start a task already moved to `running` in the caller's transaction (a scheduled
        firing, a workflow step), or fail it with `error` when it cannot run (no provider...)."""
        if error is None:
            self._launch(task, target, resume=False)
        else:
            await self.set_status(task["id"], "failed", error, agent=_agent(task), payload={"message": error})

    def _launch(self, task: dict, target: ModelTarget, *, resume: bool) -> None:
        self.events.publish(TaskStatusChanged(task["id"], "running"))
        self.supervisor.start(self.run_name(task["id"]), self._run(task, target, resume))

    async def cancel(self, task_id: str) -> None:
        """Cancel a task that has not finished; a finished one is left as it is."""
        task = await task_store.get_task_row(self.db, task_id)
        if task["status"] in task_store.TERMINAL:
            return
        await self.stop(task_id, "cancelled")  # first, so no line of the run follows "cancelled"
        await self.set_status(task_id, "cancelled", None, agent=_agent(task),
                              payload={"message": "cancelled by request"}, only_if_running=False)

    async def update(self, task_id: str, fields: dict) -> dict:
        """Apply a PATCH. A terminal status stops a live run and is announced by its log line."""
        if fields.get("status") in task_store.TERMINAL:
            await self.stop(task_id, "cancelled")  # a live run must not outlive its status

        def apply(conn, emit):
            task, previous = task_store.update_in(conn, task_id, fields)
            if task["status"] != previous and task["status"] in task_store.TERMINAL:
                emit(task_id, _agent(task), task_store.TERMINAL_LINE[task["status"]],
                     {"message": f"status set to {task['status']} by request"})
            return task, previous

        task, previous = await self.logbus.transact(apply)
        if task["status"] != previous:
            self.events.publish(TaskStatusChanged(task_id, task["status"], previous))
        return task

    async def delete(self, task_id: str) -> None:
        await self.stop(task_id)
        await task_store.delete_task(self.db, task_id)
        self.logbus.close_subscribers(task_id)  # its log is gone: end the streams following it
        # Whoever awaits the task's end (a workflow step, a queued firing) stops waiting.
        self.events.publish(TaskStatusChanged(task_id, task_store.DELETED))

    # ---- runs --------------------------------------------------------------------------------

    async def recover_interrupted(self) -> None:
        """On start: runs a crash cut off end as failed/`interrupted`, each with its `error` line
        and a task_failed alert. Runs paused on a permission request stay `running` and wait
        again; the answer continues them from their saved conversation."""
        waiting = set(await notification_store.waiting_task_ids(self.db))

        def recover(conn, emit) -> list[dict]:
            alerts = []
            for task in task_store.fail_interrupted_in(conn, keep=waiting):
                message = "interrupted: the daemon stopped during the run"
                emit(task["id"], _agent(task), "error", {"message": message})
                alerts.append(notification_store.task_finished_in(conn, task["id"], "failed", message))
            return alerts

        for alert in await self.logbus.transact(recover):
            self.events.publish(NotificationCreated(alert["id"], alert["taskId"], alert["type"]))
        await self.permissions.close_orphaned(waiting)
        for task_id in waiting:
            await self._continue_after_restart(task_id)

    async def _continue_after_restart(self, task_id: str) -> None:
        task = await task_store.get_task_row(self.db, task_id)
        try:
            target = await self.target_for(task)
        except Invalid as exc:
            await self.permissions.close_requests(task_id, exc.message)
            await self._fail(task_id, _agent(task), exc.message)
            return
        self.supervisor.start(self.run_name(task_id), self._run(task, target, True, after_restart=True))

    async def interrupt_all(self) -> None:
        """Shutdown: every live run ends as failed/`interrupted`, its final line committed."""
        for name in self.supervisor.names("task-run:"):
            await self.stop(name.split(":", 1)[1], "interrupted")
        await self.logbus.flush()

    async def set_status(self, task_id: str, status: str, result: str | None, *, agent: str,
                         payload: dict, only_if_running: bool = True, ledger: dict | None = None,
                         session: tuple[str, list[dict]] | None = None) -> bool:
        """Commit a terminal status together with the log line that announces it (and the run's
        usage row, so a client that sees the status also sees the spend; and its final
        conversation, one transaction fewer per run)."""
        session_text = None if session is None else dumps(session[1])

        def finish(conn, emit) -> tuple[bool, dict | None]:
            if session is not None:
                session_store.save_in(conn, session[0], task_id, session_text)
            changed = task_store.finish_in(conn, task_id, status, result, only_if_running=only_if_running)
            if not changed:
                return False, None
            if ledger is not None:
                task_store.record_usage_in(conn, ledger)
            emit(task_id, agent, task_store.TERMINAL_LINE[status], payload)
            return True, notification_store.task_finished_in(
                conn, task_id, status, result if status == "completed" else payload.get("message", result))

        changed, alert = await self.logbus.transact(finish)
        if changed:
            self.events.publish(TaskStatusChanged(task_id, status))
        if alert:
            self.events.publish(NotificationCreated(alert["id"], task_id, alert["type"]))
        return changed

    async def _run(self, task: dict, target: ModelTarget, resume: bool, after_restart: bool = False) -> None:
        task_id = task["id"]
        agent = _agent(task)
        started_at = now_iso()
        loop: AgentLoop | None = None
        status, recorded = "failed", False

        def ledger(final: str) -> dict | None:
            return self._ledger_entry(task, target, loop.usage if loop else Usage(), final, started_at, resume)
        try:
            working_dir = await self._working_dir(task)
            picked: list[tuple[str, dict]] = []  # logged after `started`
            task = await profile_runs.assign(self.profiles, task,
                                             lambda kind, payload: picked.append((kind, payload)))
            if picked and not task.get("modelId"):  # the profile just picked may name its own model
                target = await self.target_for(task)
            shape = await profile_runs.shape(self.profiles, task)
            session_id, messages, first_save = await load_session(self.db, task, resume, after_restart,
                                                                  shape.prompt(SYSTEM_PROMPT, target.runtime_id))
            if first_save is not None:  # commits with the `started` line: no write before the call
                self.logbus.submit(lambda conn, _emit: first_save(conn))
            self.logbus.append(task_id, agent, "session_resumed" if resume else "started",
                               {"model": target.model, "runtime": target.runtime_id, "sessionId": session_id})
            for kind, payload in picked:
                self.logbus.append(task_id, agent, kind, payload)
            output = {"text": None}
            names = await task_store.tool_names(self.db, task_id)
            allowed = frozenset(names) if names is not None else None  # a built-in action's fixed set
            surface = TaskSurface(self.db, self.logbus, self._waiting, task, agent, session_id, messages)
            task_tools = tools.TASK_TOOLS.only(allowed)
            if self.mcp is not None:  # the MCP servers' tools, as mcp__<server>__<tool>
                task_tools = await self.mcp.task_tools(task_tools, {**task, "profileMcpServers": shape.mcp_servers},
                                                       allowed, lambda kind, payload:
                                                       self.logbus.append(task_id, agent, kind, payload))
            task_tools = profile_hooks.wrap(shape.tools(task_tools), shape.profile, self.db, task, working_dir,
                                            lambda kind, payload: self.logbus.append(task_id, agent, kind, payload))
            loop = AgentLoop(surface, target, task_tools,
                             tools.ToolContext(self.db, task, working_dir, output,
                                              log=lambda kind, payload: self.logbus.append(task_id, agent, kind, payload),
                                              events=self.events),
                             budgets=self.budgets,
                             permissions=shape.permissions(self.permissions),
                             max_steps=shape.max_turns or self.max_steps,
                             retry_base_delay=self.retry_base_delay, request_timeout=self.request_timeout,
                             schemas=task_tools.schemas())
            if after_restart:  # the calls the run was paused on (one of them waits for its answer)
                await loop.call_tools(messages, unanswered_calls(messages), announce=False)
                await surface.save()
                # e.g. a pattern added meanwhile allowed the call: its request must not stay open
                await self.permissions.close_requests(task_id, "Superseded: the run went on without this answer")
            final_text = (await loop.run(messages)).text
            result = output["text"] if output["text"] is not None else final_text
            status = "completed"
            self._log_usage(task_id, agent, target, loop.usage)
            recorded = await self.set_status(task_id, "completed", result, agent=agent,
                                             payload={"result": (result or "")[:1000]}, ledger=ledger("completed"),
                                             session=(session_id, messages))
        except asyncio.CancelledError:
            reason = self._stop_reason.pop(task_id, "interrupted")
            status = "cancelled" if reason == "cancelled" else "failed"
            if reason == "cancelled":
                await self.permissions.close_requests(task_id, "The task was cancelled")
            elif task_id not in self._waiting:  # a run paused on a request continues after a restart
                await self.set_status(task_id, "failed", "interrupted", agent=agent,
                                      payload={"message": "interrupted: the daemon stopped"})
            raise
        except (llm.ProviderError, Invalid) as exc:  # Invalid: its profile is unknown or unfit
            recorded = await self._fail(task_id, agent, exc.message, ledger("failed"))
        except BudgetExceeded as exc:  # checked before the call: the provider never saw it
            message = f"budget_exceeded: {exc.message}"
            recorded = await self.set_status(task_id, "failed", message, agent=agent, ledger=ledger("failed"),
                                             payload={"message": message, "code": "budget_exceeded"})
        except Exception as exc:  # a bug must still end the task, never leave it running
            log.exception("task %s crashed", task_id)
            recorded = await self._fail(task_id, agent, f"internal error: {type(exc).__name__}: {exc}",
                                        ledger("failed"))
        finally:
            self._waiting.discard(task_id)
            self.permissions.end_run(task_id)
            if not recorded and (entry := ledger(status)) is not None:
                await task_store.record_usage(self.db, entry)
            await self.budgets.settle(task_id, task_id=task_id)
            await self.logbus.flush()

    async def _fail(self, task_id: str, agent: str, message: str, ledger: dict | None = None) -> bool:
        message = redact(message)  # an internal error may quote a provider's reply
        return await self.set_status(task_id, "failed", message, agent=agent, payload={"message": message},
                                     ledger=ledger)

    def _log_usage(self, task_id: str, agent: str, target: ModelTarget, usage: Usage) -> None:
        self.logbus.append(task_id, agent, "usage", {"model": target.model, **usage.as_dict()})

    @staticmethod
    def _ledger_entry(task, target, usage: Usage, status, started_at, resume) -> dict | None:
        if usage.input_tokens == 0 and usage.output_tokens == 0:
            return None
        ledger_status = status if status in ("completed", "failed", "cancelled") else "failed"
        if ledger_status == "completed" and not usage.priced:
            ledger_status = "unknown_pricing"
        return {
            "task_id": task["id"], "project_id": task.get("projectId"),
            "workflow_id": task.get("workflowId"), "schedule_id": task.get("scheduleId"),
            "activity_type": "task_resume" if resume else "task_run",
            "runtime_id": target.runtime_id, "provider_id": target.provider, "model_id": target.model,
            "status": ledger_status, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cost_micros": usage.cost_micros, "pricing_version": PRICING_VERSION,
            "started_at": started_at, "finished_at": now_iso(),
        }

    async def _working_dir(self, task: dict) -> Path | None:
        if not task.get("projectId"):
            return None
        wd = await project_store.working_directory(self.db, task["projectId"])
        return Path(wd).expanduser() if wd else None


def _agent(task: dict) -> str:
    """The agent_type of a task's log lines: its runtime, or stagent's own agent."""
    return task.get("assignedAgent") or "stagent-agent"

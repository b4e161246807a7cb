"""One run of a workflow as the pattern executors see it: run a step, gate it, remember it.

Invariants:
- a step is a real task (`[Workflow] <step name>`, priority 1, sourceType `workflow`) started
  by the agent runner, so its logs, cost, permissions and budgets are the task's;
- every state change is one transaction together with the progress line that announces it
  (LogBus.transact), so the stream never shows a state the database does not have;
- a step that finished is never run again: re-driving a run (resume, restart, retry) reads
  the states and continues; a step whose task a restart cut off is retried or failed as the
  definition's `onInterrupt` says;
- nothing polls: a step waits for its task's TaskStatusChanged, a checkpoint for its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...db.rows import now_iso, to_iso
from ...events import NotificationCreated
from ...store import document_context as document_store
from ...store import documents
from ...store import notifications as notification_store
from ...store import permissions as permission_store
from ...store import tasks as task_store
from ...store import workflow_runs as store
from ..agent.document_tools import clean_name, discard_text_document, write_text_document
from ..governance.permissions import DENIED_MESSAGE, TIMEOUT_MESSAGE
from . import prompts as prompts

log = logging.getLogger("stagent.workflows")

INTERRUPTED = "interrupted"  # a task's result when a stop or crash of the daemon cut its run off
RESULT_LINE_MAX = 10_000  # a result in a progress line (the full one is in the step state)


class RunInterrupted(Exception):
    """The daemon is stopping: the state stays as it is, the run continues at the next start."""


class RunPaused(Exception):
    pass


class WorkflowFailed(Exception):
    def __init__(self, message: str, stop_reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.stop_reason = stop_reason


@dataclass
class Outcome:
    ok: bool
    result: str = ""
    error: str | None = None
    ran: bool = True  # False: a checkpoint with no prompt, which only passed the previous output on


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Run:
    def __init__(self, engine, workflow: dict, run: dict, states: list[dict], documents: list[dict]):
        self.engine = engine
        self.db = engine.db
        self.workflow_id = workflow["id"]
        self.workflow_name = workflow.get("name") or "Workflow"
        self.project_id = workflow.get("projectId")
        self.number = run["runNumber"]
        self.definition = workflow["definition"]
        self.pattern = self.definition["pattern"]
        self.input_text = run.get("inputText")
        self.started_at = run["startedAt"]
        self.on_interrupt = self.definition.get("onInterrupt") or "retry"
        # None: the one approval timeout of Settings (GET/PUT /api/permissions/settings) applies
        self.checkpoint_timeout = self.definition.get("checkpointTimeoutSeconds")
        self.states = {(s["stepId"], s["iteration"]): s for s in states}
        self.documents = documents

    # ---- what the executors ask -------------------------------------------------------------

    def state(self, step_id: str, iteration: int = 0) -> dict | None:
        return self.states.get((step_id, iteration))

    def finished(self, step: dict, iteration: int = 0) -> bool:
        state = self.state(step["id"], iteration)
        return state is not None and state["status"] in ("completed", "failed")

    def with_input(self, prompt: str) -> str:
        return prompts.with_trigger_input(self.input_text, prompt)

    def elapsed_ms(self) -> float:
        return (datetime.now(UTC) - _parse_iso(self.started_at)).total_seconds() * 1000

    async def check_pause(self, stop_reason: str | None = None) -> None:
        """Between steps: a workflow paused meanwhile stops here (RunPaused)."""
        await self.engine.pause_point(self, stop_reason)

    async def is_paused(self) -> bool:
        return await store.status(self.db, self.workflow_id) == "paused"

    async def wait_for_dependencies(self, step: dict) -> None:
        if self.state(step["id"]) is None:
            await self._save(step, 0, {"status": "waiting_dependencies"})

    async def block(self, step: dict, error: str) -> None:
        await self._fail(step, 0, error)

    async def step(self, step: dict, compose: Callable[[str], str], *, iteration: int = 0, title: str | None = None,
                   previous: str | None = None, gates: bool = False) -> Outcome:
        """Run one step (or continue it where it stood) and return how it ended. `compose`
        turns the step's own prompt into the prompt its task gets; with `gates`, a checkpoint
        step first asks a human (approve, edit the prompt, or deny), showing `previous` (the
        last agent step's output; None before any agent step ran: the trigger input)."""
        state = self.state(step["id"], iteration) or {}
        status = state.get("status", "pending")
        if status == "completed":  # a completed step without a task was a pass-through checkpoint
            return Outcome(True, state.get("result") or "", ran=state.get("taskId") is not None)
        if status == "failed":
            return Outcome(False, error=state.get("error"))
        if status == "running" and state.get("taskId"):
            return await self._continue(step, iteration, state["taskId"])
        own = prompts.step_prompt(step)
        if gates and prompts.is_gate(step):
            waiting = state.get("notificationId") if status == "waiting_approval" else None
            body = prompts.checkpoint_body(previous, self.input_text)
            approved = await self._checkpoint(step, iteration, own, body, waiting)
            if approved is None:
                return Outcome(False, error=self.state(step["id"], iteration)["error"])
            own = approved
            if not own.strip():  # an approval node with nothing to run: the previous output goes on
                passed = await self._complete(step, iteration, None, previous or "")
                return Outcome(True, passed.result, ran=False)
        title = title or f"[Workflow] {prompts.step_name(step)}"
        return await self._launch(step, iteration, await self._with_documents(step, compose(own)), title)

    # ---- a step's task ------------------------------------------------------------------------

    async def _with_documents(self, step: dict, prompt: str) -> str:
        docs: dict[str, dict] = {}  # a document both bound and listed goes in once
        for d in self.documents:
            if d["stepId"] in (None, step["id"]):
                docs.setdefault(d["id"], d)
        earlier = await document_store.run_outputs(self.db, self.workflow_id, self.number)
        context = prompts.documents_context(list(docs.values()), earlier)
        return f"{context}\n\n{prompt}" if context else prompt

    async def _launch(self, step: dict, iteration: int, prompt: str, title: str) -> Outcome:
        target, error = await self.engine.runner.target_or_error(prompts.step_model(step), prompts.step_runtime(step),
                                                                 prompts.step_profile(step), self.project_id)
        now = now_iso()
        fields = {"title": title[:200], "description": prompt, "status": "running", "project_id": self.project_id,
                  "workflow_id": self.workflow_id, "workflow_run_number": self.number, "priority": 1,
                  "source_type": "workflow", "assigned_agent": prompts.step_runtime(step),
                  "agent_profile": prompts.step_profile(step), "model_id": prompts.step_model(step),
                  "max_budget_usd": step.get("budgetUsd")}  # none: a workflow step's default ($5)

        def write(conn, emit):
            task = task_store.insert_task(conn, fields)
            state = store.set_step_in(conn, self.workflow_id, self.number, step["id"], iteration, {
                "status": "running", "task_id": task["id"], "notification_id": None, "result": None,
                "error": None, "started_at": now, "completed_at": None})
            emit(None, store.ENGINE_AGENT, "step_started", self._payload(step, iteration, taskId=task["id"]))
            return task, state

        task, self.states[(step["id"], iteration)] = await self.engine.logbus.transact(write)
        await self.engine.runner.start_claimed(task, target, error)
        return await self._follow(step, iteration, task["id"])

    async def _follow(self, step: dict, iteration: int, task_id: str) -> Outcome:
        task = await self.engine.task_finished(task_id)
        if task is None:
            return await self._fail(step, iteration, "The step's task was deleted")
        if task["status"] == "completed":
            return await self._complete(step, iteration, task_id, task["result"] or "")
        if task["result"] == INTERRUPTED:
            raise RunInterrupted()
        return await self._fail(step, iteration, task["result"] or f"Task {task['status']}", task_id)

    async def _continue(self, step: dict, iteration: int, task_id: str) -> Outcome:
        """A step that was running when its run stopped (a restart, a resumed pause)."""
        task = await self.db.read(lambda conn: store.task_row_in(conn, task_id))
        if task is None:
            return await self._fail(step, iteration, "The step's task was deleted")
        if task["status"] == "running":  # e.g. paused on a permission request: it continues
            return await self._follow(step, iteration, task_id)
        if task["status"] == "completed":
            return await self._complete(step, iteration, task_id, task["result"] or "")
        if task["result"] == INTERRUPTED:
            if self.on_interrupt == "retry":
                return await self._launch(step, iteration, task["description"] or "", task["title"])
            return await self._fail(step, iteration, "interrupted: the daemon stopped during this step", task_id)
        return await self._fail(step, iteration, task["result"] or f"Task {task['status']}", task_id)

    # ---- checkpoints -------------------------------------------------------------------------

    async def _checkpoint(self, step: dict, iteration: int, prompt: str, body: str,
                          waiting_id: str | None) -> str | None:
        """Ask a human through the governance approvals; the prompt to run, or None (denied,
        timed out: the step has failed)."""
        args = {"workflowId": self.workflow_id, "runNumber": self.number, "stepId": step["id"],
                "stepName": prompts.step_name(step), "prompt": prompt}
        timeout = float(self.checkpoint_timeout or await permission_store.timeout_seconds(
            self.db, self.engine.permissions.default_timeout))
        notification = await notification_store.get(self.db, waiting_id) if waiting_id else None
        if waiting_id and notification is None:
            await self._fail(step, iteration, "The checkpoint request was dismissed")
            return None
        if notification is None:
            expires = to_iso(datetime.now(UTC) + timedelta(seconds=timeout))

            def write(conn, emit):
                created = notification_store.insert(
                    conn, type="permission_required", title=f"Workflow checkpoint: {prompts.step_name(step)}",
                    body=body, tool_name=store.CHECKPOINT_TOOL, tool_input=args,
                    expires_at=expires)
                state = store.set_step_in(conn, self.workflow_id, self.number, step["id"], iteration, {
                    "status": "waiting_approval", "notification_id": created["id"], "task_id": None,
                    "result": None, "error": None, "started_at": now_iso(), "completed_at": None})
                emit(None, store.ENGINE_AGENT, "step_waiting", self._payload(
                    step, iteration, notificationId=created["id"], expiresAt=expires))
                return created, state

            notification, self.states[(step["id"], iteration)] = await self.engine.logbus.transact(write)
            self.engine.events.publish(NotificationCreated(notification["id"], None, "permission_required"))
        decision = await self.engine.permissions.wait_for_answer(notification, args)
        if decision.allowed:
            edited = decision.args.get("prompt")
            return edited if isinstance(edited, str) else prompt
        if decision.message == TIMEOUT_MESSAGE:
            error = f"Checkpoint timed out after {timeout:g} s without an answer"
        elif decision.message and decision.message != DENIED_MESSAGE:
            error = f"Approval denied: {decision.message}"
        else:
            error = "Approval denied by user"
        await self._fail(step, iteration, error)
        return None

    # ---- state -------------------------------------------------------------------------------

    def _payload(self, step: dict, iteration: int, **fields) -> dict:
        payload = {"workflowId": self.workflow_id, "runNumber": self.number, "stepId": step["id"],
                   "stepName": prompts.step_name(step)}
        if iteration:
            payload["iteration"] = iteration
        return {**payload, **{k: v for k, v in fields.items() if v is not None}}

    async def _save(self, step: dict, iteration: int, fields: dict, event: str | None = None, *,
                    document: dict | None = None, **line) -> None:
        """Commit the step's state (with its line; and its output `document`'s row, if any)."""
        def write(conn, emit):
            if document is not None:
                documents.insert_in(conn, document)
            state = store.set_step_in(conn, self.workflow_id, self.number, step["id"], iteration, fields)
            if event:
                emit(None, store.ENGINE_AGENT, event, self._payload(step, iteration, **line))
            return state

        self.states[(step["id"], iteration)] = await self.engine.logbus.transact(write)

    async def _complete(self, step: dict, iteration: int, task_id: str | None, result: str) -> Outcome:
        fields = {"status": "completed", "result": result, "error": None, "completed_at": now_iso()}
        document = None
        if task_id:
            fields["task_id"] = task_id
            document = await self._output_document(step, task_id, result)
        try:
            await self._save(step, iteration, fields, "step_finished", document=document, status="completed",
                             taskId=task_id, result=result[:RESULT_LINE_MAX])
        except BaseException:
            if document is not None:
                discard_text_document(document)
            raise
        return Outcome(True, result)

    async def _output_document(self, step: dict, task_id: str, result: str) -> dict | None:
        """An agent step's result becomes an output document `<workflow> - <step>.md` (a new
        version each run), which later steps of the run are told about; saved once per task.
        Its file is written here, its row with the step's completed state."""
        name = clean_name(f"{self.workflow_name} - {prompts.step_name(step)}.md".replace("/", "-"))
        if not result.strip() or await document_store.output_of_task(self.db, task_id, name) is not None:
            return None
        try:
            return await write_text_document(self.db, name, result, project_id=self.project_id, task_id=task_id,
                                             source="workflow")
        except OSError as exc:  # the step's result is still kept in its state and its task
            log.warning("workflow %s: the output of step %s was not saved: %s", self.workflow_id, step["id"], exc)
            return None

    async def _fail(self, step: dict, iteration: int, error: str, task_id: str | None = None) -> Outcome:
        fields = {"status": "failed", "error": error, "completed_at": now_iso()}
        if task_id:
            fields["task_id"] = task_id
        await self._save(step, iteration, fields, "step_finished", status="failed", taskId=task_id, error=error)
        return Outcome(False, error=error)

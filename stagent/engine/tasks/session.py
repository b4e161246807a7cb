"""A task run's conversation with the model: its first prompt, the saved session a resume or a
restart continues, and the task's side of the agent loop (TaskSurface).

Invariants:
- the conversation is saved after every step and before the run waits for a permission
  answer, so a restart continues a paused run exactly where it stopped;
- a resumed conversation never has a tool call without a result: calls a stopped run left
  unanswered get "Not run" results before the model is asked to continue;
- a run spends at most its task's own budget (`maxBudgetUsd`, else the defaults): the next
  call is not made once it is spent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ...db import Database
from ...db.rows import dumps, loads, new_id
from ...store import sessions as session_store
from ...store import tasks as task_store
from ..agent import llm
from ..agent.document_prompt import task_documents_prompt
from ..agent.loop import Surface, Usage
from ..governance.budgets import BudgetExceeded, usd
from ..governance.permissions import Decision
from ..logbus import LogBus
from ..memory.prompt import knowledge

SYSTEM_PROMPT = (
    "You are stagent's task agent. Complete the user's task. Your tools work in the project's "
    "working directory: read, list, glob and grep files; write new files; edit a file (read it "
    "first, then replace an exact, unique piece of its text); run shell commands; fetch web pages "
    "and search the web; read, search and save documents; create follow-up tasks; set the task's "
    "output. Some calls wait for the user's approval, and a denied call tells you why. "
    "Finish with a concise final answer; it becomes the task's result."
)


FirstSave = Callable[[sqlite3.Connection], None]


async def load_session(db: Database, task: dict, resume: bool, after_restart: bool = False,
                       system_prompt: str = SYSTEM_PROMPT) -> tuple[str, list[dict], FirstSave | None]:
    """(session id, messages, first save): the saved conversation when resuming, else a new
    one and the write that records it (with the task's session id and profile), which the
    runner commits with its `started` line rather than waiting for a write of its own."""
    if resume and task.get("sessionId"):
        messages = await session_store.messages(db, task["sessionId"])
        if messages and after_restart:
            return task["sessionId"], messages, None  # continues where it paused, as if never stopped
        if messages:
            # A run stopped while paused on a request: its calls must still get a result.
            messages.extend({"role": "tool", "tool_call_id": call["id"],
                             "content": "Not run: the previous run stopped before this call."}
                            for call in unanswered_calls(messages))
            messages.append({"role": "user", "content": "The previous run stopped before it finished. "
                             "Continue from where it left off and give the final answer."})
            return task["sessionId"], messages, None
    session_id = new_id()
    prompt = task["title"] + (f"\n\n{task['description']}" if task.get("description") else "")
    system_prompt += await knowledge(db, task)  # learned context and memories (engine/memory)
    system_prompt += await task_documents_prompt(db, task)  # its own, its project's, its schedule's
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]
    text = dumps(messages)

    def first_save(conn) -> None:
        session_store.create_in(conn, session_id, task["id"], text)
        task_store.set_fields_in(conn, task["id"], session_id=session_id, agent_profile=task.get("agentProfile"))

    return session_id, messages, first_save


def unanswered_calls(messages: list[dict]) -> list[dict]:
    """The tool calls of the last assistant message that have no result yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "tool":
            continue
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            return []
        answered = {m.get("tool_call_id") for m in messages[index + 1:]}
        return [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in message["tool_calls"] if c["id"] not in answered]
    return []


def task_budget_usd(task: dict) -> float:
    """What one run of the task may spend: its `maxBudgetUsd`, else $5 for a workflow step and
    $2 for anything else (the original's defaults)."""
    if task.get("maxBudgetUsd"):
        return float(task["maxBudgetUsd"])
    if task.get("sourceType") == "workflow":
        return task_store.WORKFLOW_STEP_BUDGET_USD
    return task_store.DEFAULT_BUDGET_USD


class TaskSurface(Surface):
    """A task run in the agent loop: log lines, budget and permission checks keyed by the task,
    the task's own budget, the conversation saved after each step and before each wait.
    `waiting` holds the ids of runs paused on a permission request (the runner's)."""

    def __init__(self, db: Database, logbus: LogBus, waiting: set[str], task: dict, agent: str,
                 session_id: str, messages: list[dict]) -> None:
        self.db, self.logbus, self.waiting = db, logbus, waiting
        self.task, self.agent, self.session_id, self.messages = task, agent, session_id, messages
        self.run_key = self.task_id = task["id"]
        self.project_id = task.get("projectId")
        self.limit_micros = round(task_budget_usd(task) * 1_000_000)

    def _log(self, event: str, payload: dict) -> None:
        self.logbus.append(self.task_id, self.agent, event, payload)

    async def save(self) -> None:
        await session_store.save(self.db, self.session_id, self.task_id, self.messages)

    def permission_scope(self) -> dict:
        return {"task": self.task, "profile": self.task.get("agentProfile")}

    async def before_step(self, usage: Usage) -> None:
        if usage.cost_micros >= self.limit_micros:  # the next call is not made
            raise BudgetExceeded(f"this task's own budget of {usd(self.limit_micros)} is spent "
                                 f"({usd(usage.cost_micros)}); raise maxBudgetUsd and resume it to go on")

    def on_text(self, chunk: str) -> None:
        self._log("stream", {"text": chunk})

    def on_retry(self, attempt: int, error: llm.ProviderError, delay: float) -> None:
        self._log("retry", {"attempt": attempt, "message": error.message, "delaySeconds": round(delay, 2)})

    async def on_tool_call(self, call: dict, args: dict) -> None:
        self._log("tool_start", {"tool": call["name"], "input": loads(call["arguments"], call["arguments"])})

    async def before_permission_request(self) -> None:
        # With the call asked about (and the task's session id, committed by the log bus),
        # before a restart could find its request.
        await self.logbus.flush()
        await self.save()

    async def on_permission_request(self, notification: dict, call: dict, args: dict) -> None:
        self.waiting.add(self.task_id)
        self._log("permission_request", {"notificationId": notification["id"], "tool": call["name"],
                                         "input": args, "expiresAt": notification["expiresAt"]})

    async def on_permission_answer(self, call: dict, decision: Decision) -> None:
        self.waiting.discard(self.task_id)  # not on cancel: the runner must see that the run was paused
        if decision.request_id:
            self._log("permission_response", {
                "notificationId": decision.request_id, "tool": call["name"],
                "behavior": "allow" if decision.allowed else "deny", "message": decision.message})

    async def on_tool_result(self, call: dict, args: dict, result: str) -> None:
        self._log("tool_result", {"tool": call["name"], "output": result[:2000]})

    async def on_step_done(self, completion: llm.Completion, assistant: dict, results: list[dict]) -> None:
        await self.save()

    def step_limit_message(self, max_steps: int) -> str:
        return f"Step limit reached ({max_steps} model turns) without a final answer"

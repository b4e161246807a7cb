"""After a task completes, its profile's agent reflects once: one cheap, budgeted model call
proposes memories (stored at once, near-duplicates merged) and additions to the profile's
learned context (proposed to the operator through the inbox).

Invariants:
- runs only when `learning.enabled` is on, after the task's `completed` status is committed:
  whatever happens here (no provider, a spend cap, a provider error, an unusable answer)
  never changes the task;
- the call passes Budgets.check_call and is charged, settled and written to the usage ledger
  (activity `pattern_extraction`), like every other model call.
"""

from __future__ import annotations

import json
import logging
import re

from ...db import Database
from ...db.rows import now_iso
from ...errors import ApiError
from ...events import EventBus, TaskStatusChanged
from ...sanitize import scrub_json
from ...store import learned_context as context_store
from ...store import tasks as task_store
from ..agent import llm
from ..agent.pricing import PRICING_VERSION
from ..agent.providers import resolve_model
from ..governance.budgets import BudgetExceeded, Budgets
from ..learning.context import LearnedContext, enabled
from ..supervisor import Supervisor
from .memory import clean_proposals, remember
from .prompt import profile_of

log = logging.getLogger("stagent.memory")

MAX_TOKENS = 600
PROMPT = (
    "You just finished the task below as an AI agent. Propose what is worth remembering for future "
    "tasks of your profile. Reply with JSON only: {\"memories\": [{\"category\": "
    "\"fact|preference|pattern|outcome\", \"content\": \"one sentence\", \"confidence\": 0.0-1.0, "
    "\"tags\": [\"word\"]}], \"context\": [\"a standing lesson or rule for your future work\"]}. "
    "At most 5 memories and 3 context lessons; use empty arrays when nothing is worth keeping."
)


def parse(text: str) -> dict:
    match = re.search(r"\{.*\}", text, re.S)
    try:
        answer = scrub_json(json.loads(match.group(0))) if match else None
    except ValueError:
        answer = None
    return answer if isinstance(answer, dict) else {}


class Reflection:
    def __init__(self, db: Database, events: EventBus, budgets: Budgets, supervisor: Supervisor,
                 learned: LearnedContext) -> None:
        self.db, self.events, self.budgets, self.supervisor, self.learned = db, events, budgets, supervisor, learned

    def start(self) -> None:
        self.supervisor.start("memory-reflection", self._watch())

    async def stop(self) -> None:
        await self.supervisor.cancel("memory-reflection")

    async def _watch(self) -> None:
        with self.events.subscribe(TaskStatusChanged) as events:
            while True:
                event = await events.get()
                if event.status != "completed":
                    continue
                try:
                    if await enabled(self.db):
                        await self.reflect(event.task_id)
                except Exception:  # never the task's problem
                    log.exception("reflection on task %s failed", event.task_id)

    async def reflect(self, task_id: str) -> None:
        try:
            task = await task_store.get_task_row(self.db, task_id)
            target = await resolve_model(self.db, model_id=task.get("modelId"), runtime_id=task.get("assignedAgent"))
        except ApiError:
            return
        profile = profile_of(task)
        context = await context_store.current(self.db, profile)
        messages = [{"role": "system", "content": PROMPT}, {"role": "user", "content": (
            f"Profile: {profile}\nTask: {task['title']}\nDescription: {(task.get('description') or '')[:500]}\n"
            f"Result: {(task.get('result') or '')[:1500]}\nCurrent learned context:\n{context[:2000] or '(none)'}")}]
        run_key = f"reflect:{task_id}"
        try:
            max_tokens = await self.budgets.check_call(target, messages, max_tokens=MAX_TOKENS, run_key=run_key,
                                                       project_id=task.get("projectId"))
        except BudgetExceeded as exc:
            log.info("no reflection on task %s: %s", task_id, exc.message)
            return
        started = now_iso()
        try:
            try:
                completion = await llm.complete_text(target, messages, max_tokens=max_tokens)
            except llm.ProviderError as exc:
                log.info("no reflection on task %s: %s", task_id, exc.message)
                return
            cost, priced = await self.budgets.charge(run_key, target, completion, project_id=task.get("projectId"))
            await task_store.record_usage(self.db, {
                "task_id": task_id, "project_id": task.get("projectId"), "activity_type": "pattern_extraction",
                "runtime_id": target.runtime_id, "provider_id": target.provider, "model_id": target.model,
                "status": "completed" if priced else "unknown_pricing", "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens, "cost_micros": cost, "pricing_version": PRICING_VERSION,
                "started_at": started, "finished_at": now_iso()})
        finally:
            await self.budgets.settle(run_key)
        answer = parse(completion.text)
        await remember(self.db, profile, clean_proposals(answer.get("memories"), task_id))
        lessons = [str(item).strip()[:500] for item in (answer.get("context") or [])
                   if isinstance(item, str) and item.strip()][:3] if isinstance(answer.get("context"), list) else []
        if lessons:
            await self.learned.propose(profile, "\n".join(f"- {lesson}" for lesson in lessons),
                                       source_task_id=task_id)




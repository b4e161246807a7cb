"""Table triggers: a row added, updated or deleted starts a task or a workflow run, in the
background, when the trigger's condition (filter format) matches the row.

Whoever changes rows (the row routes, an import, the agent's table tools) publishes one
`TableRowsChanged` per operation after its commit (`notify(db, ...)` does it for code that holds
only the database); it never blocks and never fails the write. One supervised worker
(`table-triggers`) takes the operations in order.

Storms are bounded (decision 024b): per trigger, at most FIRINGS_PER_OPERATION actions for one
operation (a bulk insert of 1,000 rows is one operation) and at most FIRINGS_PER_MINUTE in any
60 s window. Matching rows past either limit start nothing: they are added to the trigger's
`skippedCount` and one notification per operation says how many and why. So a thousand rows
never become a thousand runs without the user raising the limit themselves (one row at a time).
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections import deque

from ...db import Database
from ...errors import ApiError, Invalid, NotFound
from ...events import EventBus, NotificationCreated, TableRowsChanged
from ...store import notifications as notification_store
from ...store import projects as project_store
from ...store import tables as table_store
from ...store import tasks as task_store
from ...store import user_table_triggers as store
from ...store import workflows as workflow_store
from ..supervisor import Supervisor
from . import query

log = logging.getLogger("stagent.table_triggers")

FIRINGS_PER_OPERATION = 5
FIRINGS_PER_MINUTE = 20
WINDOW_S = 60.0
MAX_ROW_TEXT = 4000  # the row as the task's prompt shows it

_ENGINES: weakref.WeakKeyDictionary[Database, TableTriggers] = weakref.WeakKeyDictionary()


def notify(db: Database, table_id: str, event: str, rows: list[dict], changed_by: str = "user") -> None:
    """Rows ({id, data}) one operation changed (for deletes, as they were), published on the
    event bus of the daemon that owns `db`."""
    engine = _ENGINES.get(db)
    if engine is not None and rows:
        engine.events.publish(TableRowsChanged(table_id, event, tuple(rows), changed_by))


def events_for(db: Database) -> EventBus | None:
    """The event bus of the daemon that owns `db` (for code that holds only the database, such
    as the agent's table tools), or None before the trigger engine started."""
    engine = _ENGINES.get(db)
    return engine.events if engine is not None else None


# ---- conditions ---------------------------------------------------------------------------------

def check_condition(condition, columns: list[dict]):
    """A condition as stored: None (always), one filter {column, operator, value?} or a list of
    them (all must hold), checked against the table's columns; a 400 naming the problem."""
    if condition is None or condition == [] or condition == {}:
        return None
    if not isinstance(condition, (dict, list)):
        raise Invalid("condition must be a filter {column, operator, value} or a list of filters")
    try:
        query.parse_filters(condition if isinstance(condition, list) else [condition], columns)
    except Invalid as exc:
        raise Invalid(f"condition: {exc.message}") from None
    return condition


async def check_action(db: Database, action_type: str, config) -> dict:
    """actionConfig checked for its action: create_task needs a title (and may name a project,
    a profile, a runtime); run_workflow needs a workflow that exists. A 400 naming the problem."""
    if not isinstance(config, dict):
        raise Invalid("actionConfig must be an object")
    if action_type == "run_workflow":
        workflow_id = config.get("workflowId")
        if not isinstance(workflow_id, str) or not workflow_id:
            raise Invalid("actionConfig.workflowId is required for run_workflow")
        try:
            await workflow_store.get_workflow(db, workflow_id)
        except NotFound:
            raise Invalid(f"actionConfig.workflowId: no workflow {workflow_id!r}") from None
        return {"workflowId": workflow_id}
    title = config.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise Invalid("actionConfig.title is required for create_task (1-200 characters)")
    out = {"title": title.strip()}
    for key, limit in (("description", 20_000), ("projectId", 100), ("agentProfile", 100), ("assignedAgent", 100)):
        value = config.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise Invalid(f"actionConfig.{key} must be a string of at most {limit} characters")
        out[key] = value
    if "projectId" in out and not await project_store.project_exists(db, out["projectId"]):
        raise Invalid(f"actionConfig.projectId: no project {out['projectId']!r}")
    return out


# ---- the engine ----------------------------------------------------------------------------------

class TableTriggers:
    def __init__(self, db: Database, events: EventBus, supervisor: Supervisor, runner, workflows):
        self.db = db
        self.events = events
        self.supervisor = supervisor
        self.runner = runner
        self.workflows = workflows
        self._subscription = None
        self._recent: dict[str, deque[float]] = {}  # trigger id -> monotonic times of its firings

    def start(self) -> None:
        _ENGINES[self.db] = self
        # subscribed before the worker runs: no change committed after start() is missed
        self._subscription = self.events.subscribe(TableRowsChanged)
        self.supervisor.start("table-triggers", self._work(self._subscription))

    async def stop(self) -> None:
        _ENGINES.pop(self.db, None)
        await self.supervisor.cancel("table-triggers")
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def _work(self, subscription) -> None:
        while True:
            change: TableRowsChanged = await subscription.get()
            rows = [{"id": r["id"], "data": r.get("data") or {}} for r in change.rows]
            try:
                await self.process(change.table_id, change.event, rows)
            except Exception:  # pragma: no cover - one bad operation must not stop the others
                log.exception("table triggers failed for table %s (%s)", change.table_id, change.event)

    def _allowance(self, trigger_id: str, wanted: int) -> int:
        now = time.monotonic()
        recent = self._recent.setdefault(trigger_id, deque())
        while recent and now - recent[0] > WINDOW_S:
            recent.popleft()
        allowed = max(0, min(wanted, FIRINGS_PER_OPERATION, FIRINGS_PER_MINUTE - len(recent)))
        recent.extend([now] * allowed)
        return allowed

    async def process(self, table_id: str, event: str, rows: list[dict]) -> None:
        triggers = await store.active_triggers(self.db, table_id, event)
        if not triggers:
            return
        table = await table_store.get_table(self.db, table_id)
        if table is None:
            return
        for trigger in triggers:
            matched = await self._matching(trigger, table["columns"], rows)
            if not matched:
                continue
            allowed = self._allowance(trigger["id"], len(matched))
            for row in matched[:allowed]:
                await self._fire(trigger, table, event, row)
            skipped = len(matched) - allowed
            if skipped:
                await self._report_skipped(trigger, table, event, len(matched), skipped)

    async def _matching(self, trigger: dict, columns: list[dict], rows: list[dict]) -> list[dict]:
        condition = trigger.get("condition")
        if not condition:
            return rows
        try:
            return [r for r in rows if query.matches(condition, r["data"], columns)]
        except Invalid as exc:  # a column the condition names was removed since
            await store.record_error(self.db, trigger["id"], f"condition: {exc.message}")
            return []

    async def _fire(self, trigger: dict, table: dict, event: str, row: dict) -> None:
        config = trigger.get("actionConfig") or {}
        try:
            if trigger["actionType"] == "create_task":
                await self._create_task(trigger, table, event, row, config)
            else:
                await self._run_workflow(trigger, table, event, row, config)
        except ApiError as exc:
            log.warning("trigger %s (%s) failed: %s", trigger["id"], trigger["name"], exc.message)
            await store.count_firing(self.db, trigger["id"], error=exc.message)

    async def _create_task(self, trigger: dict, table: dict, event: str, row: dict, config: dict) -> None:
        fields = {
            "title": fill(str(config.get("title") or f"{trigger['name']}: {table['name']}"), row["data"])[:200],
            "description": task_prompt(config.get("description"), table, event, row),
            "status": "running", "project_id": config.get("projectId") or table.get("projectId"),
            "agent_profile": config.get("agentProfile"), "assigned_agent": config.get("assignedAgent"),
            "source_type": "table_trigger",
        }
        target, error = await self.runner.target_or_error(None, fields["assigned_agent"])

        def write(conn) -> dict:
            task = task_store.insert_task(conn, fields)
            store.count_firing_in(conn, trigger["id"])
            return task

        task = await self.db.write(write)
        log.info("trigger %s created task %s", trigger["id"], task["id"])
        await self.runner.start_claimed(task, target, error)

    async def _run_workflow(self, trigger: dict, table: dict, event: str, row: dict, config: dict) -> None:
        workflow_id = config.get("workflowId")
        if not isinstance(workflow_id, str) or not workflow_id:
            raise Invalid("actionConfig.workflowId is missing")
        await self.workflows.start(workflow_id, trigger="table", input_text=task_prompt(None, table, event, row))
        await store.count_firing(self.db, trigger["id"])

    async def _report_skipped(self, trigger: dict, table: dict, event: str, matched: int, skipped: int) -> None:
        await store.record_skipped(self.db, trigger["id"], skipped)
        body = (f"{matched} rows of '{table['name']}' matched trigger '{trigger['name']}' in one {event} "
                f"operation; {matched - skipped} started an action and {skipped} did not. A trigger starts at "
                f"most {FIRINGS_PER_OPERATION} actions per operation and {FIRINGS_PER_MINUTE} per minute, so "
                "a bulk change never starts a run per row. Run the rest deliberately if you want them.")
        notification = await notification_store.create(
            self.db, type="agent_message", title=f"Trigger '{trigger['name']}' held back {skipped} runs", body=body)
        self.events.publish(NotificationCreated(notification["id"], None, "agent_message"))


def fill(template: str, data: dict) -> str:
    """`{{column}}` in a title replaced by the row's value (missing: empty)."""
    out = template
    for key, value in data.items():
        out = out.replace("{{" + key + "}}", "" if value is None else str(value))
    return out


def task_prompt(description, table: dict, event: str, row: dict) -> str:
    what = {"row_added": "was added to", "row_updated": "was updated in", "row_deleted": "was deleted from"}[event]
    text = json.dumps(row["data"], ensure_ascii=False, indent=2)
    if len(text) > MAX_ROW_TEXT:
        text = text[:MAX_ROW_TEXT] + "\n…"
    head = fill(str(description), row["data"]).strip() + "\n\n" if description else ""
    return f"{head}A row {what} the table '{table['name']}' (row id {row['id']}):\n```json\n{text}\n```"

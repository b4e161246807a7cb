"""Workflow triggers: a `webhook-trigger` node gets a local URL that starts a run, a
`schedule-trigger` node gets a schedule that starts one on each firing.

The trigger nodes live in the workflow's `definition.triggers[]` (decision 009); this module keeps
the rows that make them work in step with them (`sync`): a token per webhook node, a schedule per
schedule node (via engine/schedules.py, so the usual rules, time zones and firing history apply).
A node's `config` is the source of truth: removing the node removes its token or schedule, and
editing `config.interval`/`config.cron`/`config.timeZone` updates the schedule. Decision 014.
Once started, two supervised jobs keep them in step: `workflow-triggers-sync` reconciles every
workflow at start, `workflow-triggers-follow` follows each definition edit.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from ...db import Database
from ...db.rows import camel
from ...errors import Invalid, NotFound
from ...events import EventBus, EventSubscription, WorkflowDefinitionChanged
from ...security import hash_secret
from ...store import schedules as schedule_store
from ...store import workflow_triggers as store
from ...store import workflows as workflow_store
from ..schedules import editing as schedules
from ..schedules.parse import parse_interval
from ..schedules.scheduler import Scheduler
from ..supervisor import Supervisor
from .definition import MAX_TRIGGERS
from .engine import WorkflowEngine

log = logging.getLogger("stagent.workflow_triggers")

KINDS = {"webhook-trigger": "webhook", "schedule-trigger": "schedule"}
NO_INTERVAL = ('Set config.interval (e.g. "every day at 9am", "30m") or config.cron (5-field cron) '
               "on this trigger so it can create its schedule.")


def _trigger_nodes(definition: dict) -> dict[str, dict]:
    """Trigger nodes by id (the first of a duplicated id wins; nodes without an id are ignored).
    Only the first MAX_TRIGGERS count: a draft Stan is still editing may hold more (it is refused
    at execute), and each would make a token or a schedule."""
    nodes: dict[str, dict] = {}
    for node in definition.get("triggers") or []:
        if len(nodes) == MAX_TRIGGERS:
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str) and node.get("type") in KINDS:
            nodes.setdefault(node["id"], node)
    return nodes


def _config(node: dict) -> dict:
    config = node.get("config")
    return config if isinstance(config, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class WorkflowTriggers:
    def __init__(self, db: Database, events: EventBus, supervisor: Supervisor, scheduler: Scheduler,
                 workflows: WorkflowEngine):
        self.db = db
        self.events = events
        self.supervisor = supervisor
        self.scheduler = scheduler
        self.workflows = workflows
        self._lock = asyncio.Lock()  # one sync at a time: two would both create a schedule

    def start(self) -> None:
        self.supervisor.start("workflow-triggers-sync", self.sync_all())
        self.supervisor.start("workflow-triggers-follow", self.follow_edits(self.events))

    async def stop(self) -> None:
        for name in ("workflow-triggers-sync", "workflow-triggers-follow"):
            await self.supervisor.cancel(name)

    # ---- webhooks ------------------------------------------------------------------------

    async def fire_webhook(self, token: str, input_text: str | None) -> dict:
        """Start a run of the workflow whose webhook trigger owns `token`."""
        row = await store.by_token_hash(self.db, hash_secret(token))
        if row is None:
            raise NotFound("Webhook not found")
        try:  # the node may have been removed since the token was made
            triggers = await self.sync(row["workflowId"])
        except NotFound:
            raise NotFound("Webhook not found") from None
        if not any(t["id"] == row["id"] for t in triggers):
            raise NotFound("Webhook not found")
        return await self.workflows.start(row["workflowId"], trigger="webhook", input_text=input_text)

    # ---- keeping the rows in step with the nodes ---------------------------------------------

    async def sync(self, workflow_id: str) -> list[dict]:
        """Make the workflow's tokens and schedules match its trigger nodes; return each trigger
        (with `error` when its config cannot make a schedule). NotFound for an unknown workflow."""
        async with self._lock:
            workflow = await workflow_store.get_workflow(self.db, workflow_id)
            nodes = _trigger_nodes(workflow["definition"])
            rows = {r["nodeId"]: r for r in await store.list_for(self.db, workflow_id)}
            stale = [r["id"] for node_id, r in rows.items()
                     if node_id not in nodes or KINDS[nodes[node_id]["type"]] != r["kind"]]
            if stale:
                await self.db.write(lambda conn: store.delete_in(conn, stale))
            for node_id in nodes:
                if nodes[node_id]["type"] == "webhook-trigger" and (node_id not in rows or rows[node_id]["id"] in stale):
                    await self._add_webhook(workflow_id, node_id)
            errors = {}
            for node_id, node in nodes.items():
                if node["type"] == "schedule-trigger":
                    row = rows.get(node_id)
                    kept = row is not None and row["id"] not in stale
                    errors[node_id] = await self._sync_schedule(workflow, node, row.get("scheduleId") if kept else None,
                                                                has_row=kept)
            for schedule_id in await store.unlinked_schedules(self.db, workflow_id):
                await self._drop_schedule(schedule_id)
            rows = {r["nodeId"]: r for r in await store.list_for(self.db, workflow_id)}
        return [self._describe(node, rows.get(node_id), errors.get(node_id)) for node_id, node in nodes.items()]

    def follow_edits(self, events: EventBus) -> Coroutine[Any, Any, None]:
        """Keep each workflow's tokens and schedules in step with its nodes as they are edited
        (REST create/PATCH, from-assist, Stan's tools). Subscribes now, so no edit made before
        the returned loop first runs is missed."""
        return self._follow(events.subscribe(WorkflowDefinitionChanged))

    async def _follow(self, subscription: EventSubscription) -> None:
        try:
            while True:
                event = await subscription.get()
                try:
                    await self.sync(event.workflow_id)
                except NotFound:
                    pass  # deleted since: the cascade removed its rows
                except Exception:
                    log.exception("syncing the triggers of workflow %s failed", event.workflow_id)
        finally:
            subscription.close()

    async def sync_all(self) -> None:
        """At start: reconcile every workflow with triggers (edits made while no sync ran)."""
        for workflow_id in await store.workflows_with_triggers(self.db):
            try:
                await self.sync(workflow_id)
            except Exception:  # pragma: no cover - one broken workflow must not stop the others
                log.exception("syncing the triggers of workflow %s failed", workflow_id)

    async def _add_webhook(self, workflow_id: str, node_id: str) -> None:
        token = secrets.token_urlsafe(32)
        await self.db.write(lambda conn: store.insert_in(conn, workflow_id, node_id, "webhook",
                                                         token=token, token_hash=hash_secret(token)))

    async def _sync_schedule(self, workflow: dict, node: dict, schedule_id: str | None, *,
                             has_row: bool) -> str | None:
        """Create or update the node's schedule; the error text when its config cannot."""
        config = _config(node)
        expression = _text(config.get("interval")) or _text(config.get("cron"))
        zone = _text(config.get("timeZone")) or _text(config.get("timezone"))
        workflow_id, node_id = workflow["id"], node["id"]
        if expression is None:  # no interval (yet): no schedule; a former one is dropped
            if schedule_id is not None or not has_row:
                await self.db.write(lambda conn: store.link_schedule_in(conn, workflow_id, node_id, None))
            return NO_INTERVAL
        wanted = {"name": f"{workflow['name']} — {_text(node.get('name')) or 'Schedule trigger'}"[:200],
                  "time_zone": zone, "project_id": workflow.get("projectId")}
        current = await self.db.read(lambda conn: schedule_store.select(conn, schedule_id)) if schedule_id else None
        try:
            if current is None:
                created = await schedules.create(self.db, self.scheduler, {
                    **wanted, "interval": expression, "workflow_id": workflow_id,
                    "prompt": f'Start workflow "{workflow["name"]}"'[:20000]})
                await self.db.write(lambda conn: store.link_schedule_in(conn, workflow_id, node_id, created["id"]))
                return None
            changes = {k: v for k, v in wanted.items() if current.get(camel(k)) != v}
            if parse_interval(expression).cron_expression != current["cronExpression"]:
                changes["interval"] = expression
            if changes:
                await schedules.update(self.db, self.scheduler, current["id"], changes)
            return None
        except Invalid as exc:
            if current is None and (schedule_id is not None or not has_row):  # a row, so the node has an id
                await self.db.write(lambda conn: store.link_schedule_in(conn, workflow_id, node_id, None))
            return exc.message

    async def _drop_schedule(self, schedule_id: str) -> None:
        try:
            await schedules.delete(self.db, self.scheduler, schedule_id)
        except NotFound:
            pass

    @staticmethod
    def _describe(node: dict, row: dict | None, error: str | None) -> dict:
        kind = KINDS[node["type"]]
        out = {"id": row["id"] if row else None, "nodeId": node["id"], "name": node.get("name"),
               "type": node["type"], "kind": kind, "createdAt": row["createdAt"] if row else None}
        if kind == "webhook":
            out["token"] = row["token"] if row else None
        else:
            has_schedule = bool(row and row.get("scheduleId"))
            out.update({
                "scheduleId": row["scheduleId"] if has_schedule else None,
                "cronExpression": row["cronExpression"] if has_schedule else None,
                "timeZone": row["timeZone"] if has_schedule else None,
                "status": row["scheduleStatus"] if has_schedule else None,
                "nextFireAt": row["nextFireAt"] if has_schedule else None,
            })
            if error:
                out["error"] = error
        return out

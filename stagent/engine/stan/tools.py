"""Stan's workflow-builder tools: they edit the real workflow records, so what Stan says it did is true.

Nodes map onto the catalog's WorkflowDefinition (docs/decisions/009-stan-sessions-and-workflow-nodes.md):
a step node is a `steps[]` entry with `type` (`agent` by default) and `config`; trigger nodes
(`webhook-trigger`, `schedule-trigger`) live in `triggers[]`; `connect_nodes(a, b)` adds `a` to
`b.dependsOn`. Every edit goes through store.workflows.edit_definition (one transaction); a
mistake of the model comes back to it as a tool error and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...db import Database
from ...errors import ApiError
from ...store import workflows as store
from ..agent.tools import STAN_TOOLS, ToolError, define, text_arg

STEP_TYPES = ("agent", "approval")
TRIGGER_TYPES = ("webhook-trigger", "schedule-trigger")
NODE_TYPES = STEP_TYPES + TRIGGER_TYPES
DEFAULT_NAMES = {"agent": "Agent step", "approval": "Approval", "webhook-trigger": "Webhook trigger",
                 "schedule-trigger": "Schedule trigger"}


@dataclass
class StanToolContext:
    """What a tool call may read and change: the database and the Stan session."""

    db: Database
    session: dict
    save_session: Callable[[dict], Awaitable[None]]  # records activeWorkflowId/-Name
    touched: dict[str, dict] = field(default_factory=dict)  # workflow id -> latest record

    def resources(self) -> dict:
        if not self.touched:
            return {}
        return {"workflows": [summary(w) for w in self.touched.values()]}


def workflow_url(workflow_id: str) -> str:
    return f"/src/workflows/{workflow_id}"  # as the Stan document writes it


def summary(workflow: dict) -> dict:
    definition = workflow["definition"]
    return {"id": workflow["id"], "name": workflow["name"], "status": workflow["status"],
            "url": workflow_url(workflow["id"]), "pattern": definition["pattern"],
            "steps": definition["steps"], "triggers": definition["triggers"]}


# ---- pure edits of a definition ------------------------------------------------------------

def _object(args: dict, key: str) -> dict:
    value = args.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolError(f"'{key}' must be an object")
    return value


def _find(definition: dict, node_id: str) -> tuple[str, dict]:
    for kind in ("steps", "triggers"):
        for node in definition[kind]:
            if node.get("id") == node_id:
                return kind, node
    known = [n.get("id") for n in definition["steps"] + definition["triggers"]]
    raise ToolError(f"no node '{node_id}' in this workflow; its nodes are: {', '.join(known) or 'none'}")


def add_node(definition: dict, args: dict) -> dict:
    node_type = text_arg(args, "type", default="agent")
    if node_type not in NODE_TYPES:
        raise ToolError(f"unknown node type '{node_type}'; use one of: {', '.join(NODE_TYPES)}")
    name = text_arg(args, "name", default=DEFAULT_NAMES[node_type])
    node: dict[str, Any] = {"id": f"{node_type.split('-')[0]}-{uuid.uuid4().hex[:8]}", "name": name,
                            "type": node_type, "config": _object(args, "config")}
    if node_type in TRIGGER_TYPES:
        definition["triggers"].append(node)
        return node
    node["prompt"] = text_arg(args, "prompt", default="")
    if node_type == "approval":
        node["requiresApproval"] = True
    depends_on = args.get("dependsOn") or []
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise ToolError("'dependsOn' must be a list of node ids")
    for source in depends_on:
        if _find(definition, source)[0] != "steps":
            raise ToolError(f"'{source}' is a trigger; triggers start the whole workflow and need no connection")
    if depends_on:
        node["dependsOn"] = list(dict.fromkeys(depends_on))
    definition["steps"].append(node)
    return node


def remove_node(definition: dict, node_id: str) -> dict:
    kind, node = _find(definition, node_id)
    definition[kind].remove(node)
    for step in definition["steps"]:
        if node_id in step.get("dependsOn", []):
            step["dependsOn"].remove(node_id)
            if not step["dependsOn"]:
                del step["dependsOn"]
    return node


def _reaches(definition: dict, start: str, goal: str) -> bool:
    """Whether `goal` is upstream of `start` (following dependsOn)."""
    by_id = {s["id"]: s for s in definition["steps"]}
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(by_id.get(current, {}).get("dependsOn", []))
    return False


def connect(definition: dict, source_id: str, target_id: str) -> dict:
    source_kind, _ = _find(definition, source_id)
    target_kind, target = _find(definition, target_id)
    if source_kind == "triggers":
        raise ToolError(f"'{source_id}' is a trigger; triggers start the whole workflow and need no connection")
    if target_kind == "triggers":
        raise ToolError(f"'{target_id}' is a trigger; a trigger cannot wait for another node")
    if source_id == target_id or _reaches(definition, source_id, target_id):
        raise ToolError(f"connecting {source_id} -> {target_id} would make a cycle")
    depends_on = target.setdefault("dependsOn", [])
    if source_id not in depends_on:
        depends_on.append(source_id)
    return target


def disconnect(definition: dict, source_id: str, target_id: str) -> dict:
    _, target = _find(definition, target_id)
    if source_id not in target.get("dependsOn", []):
        raise ToolError(f"{target_id} does not depend on {source_id}")
    target["dependsOn"].remove(source_id)
    if not target["dependsOn"]:
        del target["dependsOn"]
    return target


def configure(definition: dict, args: dict) -> dict:
    _, node = _find(definition, text_arg(args, "nodeId", required=True))
    config = node.setdefault("config", {})
    for key, value in _object(args, "config").items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    if args.get("name") is not None:
        node["name"] = text_arg(args, "name", required=True)
    if args.get("prompt") is not None and "prompt" in node:
        node["prompt"] = text_arg(args, "prompt", default="")
    return node


# ---- the tools -----------------------------------------------------------------------------

def _given_or_active(ctx: StanToolContext, args: dict) -> str | None:
    return text_arg(args, "workflowId") or ctx.session.get("activeWorkflowId")


async def _target_id(ctx: StanToolContext, args: dict) -> str:
    workflow_id = _given_or_active(ctx, args)
    if not workflow_id:
        raise ToolError("there is no active workflow; call create_workflow first or pass workflowId")
    return workflow_id


async def _activate(ctx: StanToolContext, workflow: dict) -> None:
    ctx.session["activeWorkflowId"] = workflow["id"]
    ctx.session["activeWorkflowName"] = workflow["name"]
    ctx.touched[workflow["id"]] = workflow
    await ctx.save_session(ctx.session)


async def _edit(ctx: StanToolContext, args: dict, change) -> tuple[dict, Any]:
    workflow, result = await store.edit_definition(ctx.db, await _target_id(ctx, args), change)
    ctx.touched[workflow["id"]] = workflow
    return workflow, result


async def create_workflow(ctx: StanToolContext, args: dict) -> dict:
    pattern = text_arg(args, "pattern", default="sequence")
    workflow = await store.create_workflow(ctx.db, name=text_arg(args, "name", required=True),
                                           definition=store.empty_definition(pattern),
                                           project_id=text_arg(args, "projectId"))
    await _activate(ctx, workflow)
    return {"created": True, "workflow": summary(workflow), "active": True}


async def list_workflows(ctx: StanToolContext, args: dict) -> dict:
    rows = await store.list_workflows(ctx.db, limit=50)
    return {"workflows": [{"id": w["id"], "name": w["name"], "status": w["status"],
                           "steps": len(w["definition"]["steps"]),
                           "triggers": len(w["definition"]["triggers"]),
                           "active": w["id"] == ctx.session.get("activeWorkflowId")} for w in rows]}


async def get_workflow(ctx: StanToolContext, args: dict) -> dict:
    return summary(await store.get_workflow(ctx.db, await _target_id(ctx, args)))


async def set_active_workflow(ctx: StanToolContext, args: dict) -> dict:
    workflow = await store.get_workflow(ctx.db, text_arg(args, "workflowId", required=True))
    await _activate(ctx, workflow)
    return {"active": True, "workflow": summary(workflow)}


async def add_workflow_node(ctx: StanToolContext, args: dict) -> dict:
    if _given_or_active(ctx, args):
        workflow, node = await _edit(ctx, args, lambda d: add_node(d, args))
    else:  # no workflow yet: a draft with this node, or (a bad node) nothing at all
        definition = store.empty_definition()
        node = add_node(definition, args)
        workflow = await store.create_workflow(
            ctx.db, name=ctx.session.get("activeWorkflowName") or "Untitled workflow", definition=definition)
        await _activate(ctx, workflow)
    return {"added": node, "workflowId": workflow["id"]}


async def remove_workflow_node(ctx: StanToolContext, args: dict) -> dict:
    node_id = text_arg(args, "nodeId", required=True)
    workflow, node = await _edit(ctx, args, lambda d: remove_node(d, node_id))
    return {"removed": node["id"], "workflowId": workflow["id"]}


async def connect_nodes(ctx: StanToolContext, args: dict) -> dict:
    source, target = text_arg(args, "sourceId", required=True), text_arg(args, "targetId", required=True)
    workflow, node = await _edit(ctx, args, lambda d: connect(d, source, target))
    return {"connected": True, "step": node["id"], "dependsOn": node["dependsOn"], "workflowId": workflow["id"]}


async def disconnect_nodes(ctx: StanToolContext, args: dict) -> dict:
    source, target = text_arg(args, "sourceId", required=True), text_arg(args, "targetId", required=True)
    workflow, node = await _edit(ctx, args, lambda d: disconnect(d, source, target))
    return {"disconnected": True, "step": node["id"], "dependsOn": node.get("dependsOn", []),
            "workflowId": workflow["id"]}


async def set_node_config(ctx: StanToolContext, args: dict) -> dict:
    workflow, node = await _edit(ctx, args, lambda d: configure(d, args))
    return {"updated": node, "workflowId": workflow["id"]}


async def rename_workflow(ctx: StanToolContext, args: dict) -> dict:
    workflow = await store.rename_workflow(ctx.db, await _target_id(ctx, args), text_arg(args, "name", required=True))
    ctx.touched[workflow["id"]] = workflow
    if workflow["id"] == ctx.session.get("activeWorkflowId"):
        ctx.session["activeWorkflowName"] = workflow["name"]
        await ctx.save_session(ctx.session)
    return {"renamed": True, "workflowId": workflow["id"], "name": workflow["name"]}


def _guarded(fn):
    """Store errors (unknown workflow, not editable, blank name) go back to the model as tool errors."""

    async def run(ctx: StanToolContext, args: dict):
        try:
            return await fn(ctx, args)
        except ApiError as exc:
            raise ToolError(exc.message) from None

    return run


_WORKFLOW_ID = {"workflowId": {"type": "string", "description": "Defaults to the active workflow"}}
_STRING = {"type": "string"}


def _register(fn, description: str, properties: dict, required: tuple[str, ...] = ()) -> None:
    """Offer `fn` to Stan as the tool of its name (store errors become tool errors)."""
    STAN_TOOLS.add(define(fn.__name__, description, properties, required, _guarded(fn)))


_register(create_workflow, "Create a draft workflow and make it the active one.",
          {"name": _STRING, "pattern": {"type": "string", "enum": list(store.PATTERNS)},
           "projectId": _STRING}, ("name",))
_register(list_workflows, "List the workflows (newest first) with their step and trigger counts.", {})
_register(get_workflow, "Show a workflow's nodes: steps (with dependsOn) and triggers.", _WORKFLOW_ID)
_register(set_active_workflow, "Make an existing workflow the one being edited.",
          {"workflowId": _STRING}, ("workflowId",))
_register(add_workflow_node, "Add a node to the active workflow (created if there is none). Types: "
          "agent (a step an agent runs with `prompt`), approval (a step that waits for a human), "
          "webhook-trigger, schedule-trigger (config.cron).",
          {"type": {"type": "string", "enum": list(NODE_TYPES)}, "name": _STRING, "prompt": _STRING,
           "config": {"type": "object"}, "dependsOn": {"type": "array", "items": _STRING}, **_WORKFLOW_ID},
          ("type",))
_register(remove_workflow_node, "Remove a node; steps that depended on it no longer do.",
          {"nodeId": _STRING, **_WORKFLOW_ID}, ("nodeId",))
_register(connect_nodes, "Make step targetId run after step sourceId.",
          {"sourceId": _STRING, "targetId": _STRING, **_WORKFLOW_ID}, ("sourceId", "targetId"))
_register(disconnect_nodes, "Remove the connection sourceId -> targetId.",
          {"sourceId": _STRING, "targetId": _STRING, **_WORKFLOW_ID}, ("sourceId", "targetId"))
_register(set_node_config, "Merge config keys into a node (a null value removes the key); optionally "
          "rename it or change a step's prompt.",
          {"nodeId": _STRING, "config": {"type": "object"}, "name": _STRING, "prompt": _STRING,
           **_WORKFLOW_ID}, ("nodeId",))
_register(rename_workflow, "Rename a workflow.", {"name": _STRING, **_WORKFLOW_ID}, ("name",))

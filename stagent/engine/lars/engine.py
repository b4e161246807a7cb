"""Lars (app.state.lars): chat turns that propose actions, and the execution of those actions.

A chat turn is one ConversationEngine.send (mode `assistant`) with Lars's tools (lars_tools.py):
read-only views of the workspace's clients, tasks, schedules and workflows, and
`propose_action`, which validates a proposal against the registry (lars_actions.py) and stores
it as SUGGESTED. Nothing the model does changes state; a person executes an action.

Executing: low and medium risk with autoApprove run at once; everything else waits for a
`permission_required` notification (tool `LarsAction`, no task or conversation, so no other
owner closes it) to be answered through Permissions — the Lars respond route, or an approval
channel — and runs when it is allowed, with the params as the approver may have edited them
(validated like a proposal). The request's deadline is stored, so a restart re-arms the wait
(`recover`). docs/decisions/015-lars.md has the rules.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ...db import Database
from ...db.rows import dumps, new_id, to_iso
from ...errors import ApiError, Conflict, Invalid, NotFound
from ...events import NotificationCreated
from ...store import clients as client_store
from ...store import lars_actions as store
from ...store import notifications as notification_store
from ...store import permissions as allow_store
from ...store import projects as project_store
from ..governance.rate_limit import RateLimiter
from .actions import (
    ActionContext,
    ActionFailed,
    InvalidProposal,
    Workspace,
    check_targets,
    describe_types,
    higher,
    parse,
    risk_of,
    target_task,
)
from .tools import LARS_TOOLS, LarsToolContext

log = logging.getLogger("stagent.lars")

DEFAULT_WORKSPACE = "default"
# Requests per minute per workspace: the document's chat and actions (execute) limits; reading
# actions and answering their approvals, and the client records, in buckets of their own.
LIMITS = {"chat": 60, "actions": 30, "action-status": 120, "clients": 120}
APPROVAL_TOOL = "LarsAction"  # in permissions.ONE_OFF_TOOLS: "always allow" saves no pattern for it
SETTLE_SECONDS = 30.0  # how long the respond route waits for an approved action to finish
INTERRUPTED = "interrupted: the daemon stopped while the action ran"
RULES = ("You cannot change anything yourself. To suggest a change, call propose_action once per "
         "action; the user reviews each suggestion and executes it. Say what you suggested, and never "
         "claim that a suggested action has been done. Look clients up with your tools before you "
         "propose an action about them, and put their ids only in params. Action types:\n")


def public(action: dict) -> dict:
    """A suggested action as the document shows it."""
    return {k: action[k] for k in ("id", "type", "title", "description", "status", "riskLevel", "params")}


def metadata(action: dict) -> dict:
    meta = {"actionType": action["type"].lower(), "riskLevel": action["riskLevel"]}
    if (action.get("params") or {}).get("clientId"):
        meta["clientId"] = action["params"]["clientId"]
    return meta


def outcome(action: dict) -> dict:
    """What execute answers for an action in its current state."""
    out = {"success": action["status"] == store.EXECUTED, "status": action["status"], "actionId": action["id"]}
    if action["status"] == store.EXECUTED:
        out["result"] = action["result"]
    elif action["status"] == store.PENDING_APPROVAL:
        out["approvalId"] = action["approvalId"]
    elif action["status"] in (store.FAILED, store.REJECTED):
        out["error"] = action["error"]
    out["metadata"] = metadata(action)
    return out


def _workspace_of(action: dict) -> Workspace:
    workspace = action["workspaceId"]
    return Workspace(workspace, None if workspace == DEFAULT_WORKSPACE else workspace)


def _mentions(text: str, client: dict) -> bool:
    name, domain = (client["name"] or "").strip().lower(), (client["domain"] or "").lower()
    if len(name) >= 3 and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text):
        return True
    return bool(domain) and domain in text


class Lars:
    def __init__(self, db: Database, events, permissions, supervisor, conversations, runner, scheduler,
                 channels, workflows, *, rate_limits: RateLimiter | None = None):
        self.db, self.events, self.permissions, self.supervisor = db, events, permissions, supervisor
        self.conversations, self.runner, self.scheduler, self.channels = conversations, runner, scheduler, channels
        self.workflows = workflows  # the WorkflowEngine RUN_WORKFLOW starts runs through (None: refused)
        self.rate_limits = rate_limits or RateLimiter(LIMITS)
        self._approvals: dict[str, asyncio.Task] = {}

    async def workspace(self, workspace_id: str) -> Workspace:
        if workspace_id == DEFAULT_WORKSPACE:
            return Workspace(DEFAULT_WORKSPACE, None)
        if not await project_store.project_exists(self.db, workspace_id):
            raise NotFound(f"Workspace not found: {workspace_id} (use a project id or 'default')",
                           code="WORKSPACE_NOT_FOUND")
        return Workspace(workspace_id, workspace_id)

    def context(self, workspace: Workspace) -> ActionContext:
        return ActionContext(self.db, workspace, self.events, self.runner, self.scheduler, self.channels,
                             self.workflows)

    # ---- chat ------------------------------------------------------------------------------------
    async def chat(self, workspace: Workspace, content: str, conversation_id: str | None = None) -> dict:
        created = conversation_id is None
        if created:
            await self.conversations.target_for({})  # no provider: 400 before anything is stored
            conversation = await self.conversations.create(mode="assistant", project_id=workspace.project_id)
            conversation_id = conversation["id"]
            await store.bind_conversation(self.db, conversation_id, workspace.id)
        elif await store.conversation_workspace(self.db, conversation_id) != workspace.id:
            raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND")
        tools = LarsToolContext(self, workspace, conversation_id)
        try:
            reply = await self._turn(conversation_id, content, tools, await self._brief(workspace))
        except ApiError:
            if created:
                await self._drop_if_empty(conversation_id)
            raise
        return {"content": reply.content, "conversationId": conversation_id,
                "suggestedActions": [public(a) for a in tools.proposals],
                "clientReferences": await self._references(workspace, tools, reply.content)}

    async def _drop_if_empty(self, conversation_id: str) -> None:
        """A first turn that never started (budget, provider) leaves no empty conversation behind."""
        try:
            if not (await self.conversations.get(conversation_id)).get("messageCount"):
                await self.conversations.delete(conversation_id)
        except NotFound:
            pass

    async def _turn(self, conversation_id: str, content: str, tools: LarsToolContext, brief: str):
        async def turn():
            try:
                return await self.conversations.send(conversation_id, content, tools=LARS_TOOLS, source="lars",
                                                     tool_context=tools, system_extra=brief), None
            except ApiError as exc:  # answered by the request, not logged as a crash
                return None, exc

        # Under the supervisor, as Stan's: a client that leaves does not cut the reply short.
        task = self.supervisor.start(f"lars-turn:{conversation_id}:{new_id()}", turn())
        await asyncio.wait({task})
        if task.cancelled():
            raise Conflict("Lars's reply was interrupted before it finished; send the message again.",
                           code="REPLY_INTERRUPTED")
        reply, error = task.result()
        if error is not None:
            raise error
        return reply

    async def _brief(self, workspace: Workspace) -> str:
        if workspace.project_id is None:
            where = "The workspace is 'default': the tasks, schedules and workflows that belong to no project."
        else:
            name = await project_store.project_name(self.db, workspace.project_id)
            where = f"The workspace is the project '{name}' (id {workspace.project_id})."
        return f"{where}\n{RULES}{describe_types()}"

    async def _references(self, workspace: Workspace, tools: LarsToolContext, text: str) -> list[dict]:
        """The clients the reply talks about: those fetched with get_client and those a
        suggested action names (clientId), then those whose name or domain the reply contains.
        A client a search or the at-risk list merely returned is not one of them."""
        found: dict[str, dict] = {}
        for client in tools.referenced:
            found.setdefault(client["id"], client)
        lowered = (text or "").lower()
        if lowered:
            for client in await client_store.names(self.db, workspace.id):
                if client["id"] not in found and _mentions(lowered, client):
                    found[client["id"]] = client
        return [{"id": c["id"], "name": c["name"], "domain": c.get("domain")} for c in found.values()]

    # ---- proposals -------------------------------------------------------------------------------
    async def propose(self, workspace: Workspace, conversation_id: str | None, type_name: Any, title: Any,
                      description: Any, params: Any) -> tuple[dict, dict | None]:
        """Validate and store a SUGGESTED action; InvalidProposal says what is wrong."""
        if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
            raise InvalidProposal("title must be a non-empty string of at most 200 characters")
        if description is not None and (not isinstance(description, str) or len(description) > 2000):
            raise InvalidProposal("description must be a string of at most 2000 characters")
        action_type, parsed = parse(type_name, params)
        try:
            targets = await check_targets(self.context(workspace), action_type, parsed)
        except (ActionFailed, ApiError) as exc:
            raise InvalidProposal(exc.message) from None
        action = await store.insert(self.db, workspace=workspace.id, conversation_id=conversation_id,
                                    type=action_type.name, title=title.strip(),
                                    description=(description or "").strip(), params=parsed.dump(),
                                    risk_level=risk_of(action_type, parsed, targets.client, targets.task))
        return action, targets.client

    # ---- execution -------------------------------------------------------------------------------
    async def execute(self, workspace: Workspace, action_id: str, auto_approve: bool) -> dict:
        action = await store.get(self.db, workspace.id, action_id)
        if action["status"] != store.SUGGESTED:
            raise store.invalid_status(action["status"])
        try:
            action_type, params = parse(action["type"], action["params"])
        except InvalidProposal as exc:  # stored by an older registry
            raise Invalid(f"The action's params are no longer valid: {exc}", code="INVALID_ACTION_STATUS") from None
        client = None
        if getattr(params, "client_id", None):
            client = await client_store.find(self.db, workspace.id, params.client_id)
            if client is None:
                raise client_store.not_found(params.client_id)
        # the client or the task may have changed since the proposal
        target = await target_task(self.context(workspace), params)
        risk = higher(action["riskLevel"], risk_of(action_type, params, client, target))
        if auto_approve and risk != "high":
            action = await store.claim_for_execution(self.db, workspace.id, action_id, risk)
            task = self.supervisor.start(f"lars-action:{action_id}", self._run(action))
            return outcome(await asyncio.shield(task))
        timeout = await allow_store.timeout_seconds(self.db, self.permissions.default_timeout)
        expires_at = to_iso(datetime.now(UTC) + timedelta(seconds=max(0.0, timeout)))
        action, notification = await store.claim_for_approval(
            self.db, workspace.id, action_id, risk, lambda conn, claimed: self._open_request(conn, claimed, expires_at))
        self.events.publish(NotificationCreated(notification["id"], None, "permission_required"))
        self._arm(action)
        return {**outcome(action), "riskLevel": risk, "expiresAt": expires_at}

    @staticmethod
    def _open_request(conn, action: dict, expires_at: str) -> dict:
        summary = f"{action['type']}: {action['title']} ({action['riskLevel']} risk)"
        tool_input = {"action": summary, "actionId": action["id"], "description": action["description"],
                      "params": action["params"], "riskLevel": action["riskLevel"],
                      "workspaceId": action["workspaceId"]}
        body = "\n".join(part for part in (f"Lars suggests {summary}.", action["description"],
                                           f"params: {dumps(action['params'])}") if part)
        return notification_store.insert(conn, type="permission_required", title=f"Approval required: {summary}",
                                         body=body[:1000], tool_name=APPROVAL_TOOL, tool_input=tool_input,
                                         expires_at=expires_at)

    async def _run(self, action: dict) -> dict:
        """Run an action already claimed (EXECUTING) and store EXECUTED or FAILED."""
        result, error = None, None
        try:
            action_type, params = parse(action["type"], action["params"])
            result = await action_type.run(self.context(_workspace_of(action)), params)
        except (ActionFailed, ApiError) as exc:
            error = exc.message
        except InvalidProposal as exc:
            error = f"The action's params are no longer valid: {exc}"
        except Exception as exc:  # a bug: the action fails, the daemon goes on
            log.exception("Lars action %s crashed", action["id"])
            error = f"internal error: {type(exc).__name__}: {exc}"
        if error is None:
            result = {**result, "title": action["title"]}  # as the document's example: the action's title
            done = await store.finish(self.db, action["id"], store.EXECUTING, store.EXECUTED, result=result)
        else:
            done = await store.finish(self.db, action["id"], store.EXECUTING, store.FAILED, error=error)
        return done or await store.find(self.db, action["id"]) or action

    # ---- approvals -------------------------------------------------------------------------------
    def _arm(self, action: dict) -> None:
        """Wait (under the supervisor) for the answer to the action's approval request."""
        name = f"lars-approval:{action['id']}"
        if not self.supervisor.running(name):
            self._approvals[action["id"]] = self.supervisor.start(name, self._await_approval(action))

    async def _await_approval(self, action: dict) -> None:
        action_id = action["id"]
        try:
            if action["approvalId"] is None:
                allowed, message = False, "The action has no approval request"
            else:
                decision = await self.permissions.wait_for_answer({"id": action["approvalId"]}, {})
                allowed, message = decision.allowed, decision.message
            if not allowed:
                await store.finish(self.db, action_id, store.PENDING_APPROVAL, store.REJECTED,
                                   error=message or "The approval was denied")
                return
            edited = decision.args.get("params")  # the approver's edit (updatedInput), if any
            params, risk, error = action["params"], action["riskLevel"], None
            if edited is not None and edited != action["params"]:
                params, risk, error = await self._edited(action, edited)
            if error is not None:
                await store.finish(self.db, action_id, store.PENDING_APPROVAL, store.FAILED, error=error)
            elif await store.start_approved(self.db, action_id, params, risk):
                await self._run(await store.find(self.db, action_id))
        finally:
            if self._approvals.get(action_id) is asyncio.current_task():
                del self._approvals[action_id]

    async def _edited(self, action: dict, edited) -> tuple[dict, str, str | None]:
        """(params, risk, error) of params an approver edited: validated like a proposal, so
        an invalid edit fails the action with the reason instead of running something else."""
        try:
            action_type, params = parse(action["type"], edited)
            targets = await check_targets(self.context(_workspace_of(action)), action_type, params)
        except InvalidProposal as exc:
            return action["params"], action["riskLevel"], f"The edited params are not valid: {exc}"
        except (ActionFailed, ApiError) as exc:
            return action["params"], action["riskLevel"], f"The edited params are not valid: {exc.message}"
        risk = higher(action["riskLevel"], risk_of(action_type, params, targets.client, targets.task))
        return params.dump(), risk, None

    async def respond(self, workspace: Workspace, action_id: str, behavior: str, message: str | None) -> dict:
        """Answer the action's approval request; returns the action once it has run (or was rejected)."""
        action = await store.get(self.db, workspace.id, action_id)
        if action["status"] != store.PENDING_APPROVAL:
            raise Invalid(f"Action is not waiting for approval: its status is {action['status']}",
                          code="INVALID_ACTION_STATUS")
        if behavior == "deny" and not message:
            message = "Denied by the user"
        try:
            await self.permissions.respond(action["approvalId"], behavior=behavior, message=message)
        except (NotFound, Conflict):
            pass  # dismissed or answered meanwhile (by a channel, or the deadline): its waiter settles it
        self._arm(action)  # a no-op while the waiter runs; after a lost waiter, one reads the answer now
        waiter = self._approvals.get(action_id)
        if waiter is not None:
            await asyncio.wait({waiter}, timeout=SETTLE_SECONDS)
        return await store.get(self.db, workspace.id, action_id)

    async def recover(self) -> None:
        """On start: actions a crash cut off while running fail; approvals wait again with their
        stored deadline (one that passed while the daemon was down is rejected at once)."""
        await store.fail_interrupted(self.db, INTERRUPTED)
        for action in await store.pending_approval(self.db):
            self._arm(action)


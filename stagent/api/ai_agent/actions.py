"""/api/ai-agent/actions: the actions Lars suggested; execute one (at once, or after approval),
read its state, list them, and approve or reject one that waits (docs/decisions/015-lars.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ...engine.lars.engine import outcome
from ...errors import Invalid
from ...store import lars_actions as action_store
from .._http import Body, Out, endpoint, read_body, read_query
from ._surface import ERRORS, lars_endpoint, success


class ExecuteRequest(Body):
    action_id: str | None = Field(default=None, min_length=1, max_length=200)
    auto_approve: bool | None = None


class RespondRequest(Body):
    behavior: Literal["allow", "deny"]
    message: str | None = Field(default=None, max_length=2000)


class ActionListQuery(Body):
    status: Literal[action_store.STATUSES] | None = None
    conversation_id: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=action_store.LIST_LIMIT, ge=1, le=500)


class SuggestedActionOut(Out):
    id: str
    type: str
    title: str
    description: str
    status: str
    riskLevel: Literal["low", "medium", "high"]
    params: dict


class ExecuteData(Out):
    success: bool
    status: str
    metadata: dict


class ExecuteOut(Out):
    success: bool
    data: ExecuteData


class ActionData(SuggestedActionOut):
    workspaceId: str
    conversationId: str | None
    approvalId: str | None
    result: dict | None
    error: str | None
    createdAt: str
    updatedAt: str
    executedAt: str | None


class ActionOut(Out):
    success: bool
    data: ActionData


class ActionListOut(Out):
    success: bool
    data: list[ActionData]


@endpoint(body=ExecuteRequest, response=ExecuteOut, errors=ERRORS)
@lars_endpoint("actions")
async def execute_action(request, workspace):
    """Execute a suggested action: at once (autoApprove, low/medium risk) or after approval."""
    action_id = request.path_params["actionId"]
    body = await read_body(request, ExecuteRequest)
    if body.action_id is not None and body.action_id != action_id:
        raise Invalid("actionId in the body does not match the path",
                      field_errors={"actionId": ["does not match the action id in the path"]})
    return success(await request.app.state.lars.execute(workspace, action_id, bool(body.auto_approve)))


@endpoint(response=ActionOut, errors=ERRORS)
@lars_endpoint("action-status")
async def get_action(request, workspace):
    """One action with its state, result or error (e.g. after its approval)."""
    return success(await action_store.get(request.app.state.db, workspace.id, request.path_params["actionId"]))


@endpoint(query=ActionListQuery, response=ActionListOut, errors=ERRORS)
@lars_endpoint("action-status")
async def list_actions(request, workspace):
    """The workspace's actions, newest first; filter by status or conversation."""
    query = read_query(request, ActionListQuery)
    return success(await action_store.list_actions(request.app.state.db, workspace.id, status=query.status,
                                                   conversation_id=query.conversation_id, limit=query.limit))


@endpoint(body=RespondRequest, response=ExecuteOut, errors=ERRORS)
@lars_endpoint("action-status")
async def respond_action(request, workspace):
    """Approve (allow) or reject (deny) an action waiting for approval; needs the admin scope."""
    body = await read_body(request, RespondRequest)
    action = await request.app.state.lars.respond(workspace, request.path_params["actionId"], body.behavior,
                                                  body.message)
    return success(outcome(action))


routes = [
    Route("/api/ai-agent/actions", list_actions, methods=["GET"]),
    Route("/api/ai-agent/actions/{actionId}", get_action, methods=["GET"]),
    Route("/api/ai-agent/actions/{actionId}/execute", execute_action, methods=["POST"]),
    Route("/api/ai-agent/actions/{actionId}/respond", respond_action, methods=["POST"]),
]

"""/api/ai-agent/*: the Lars API (chat with suggested actions, action execution) and its envelope.

Every request needs `X-API-Key` (scope per route) and `X-Workspace-Id` (a project id or
`default`). Successes are `{"success": true, "data": …}`; every failure on this prefix, the
request guard's included, is `{"success": false, "error", "code", "timestamp"}`. Requests that
reach a workspace are counted per (workspace, bucket) and carry X-RateLimit-* headers, errors
included. docs/decisions/015-lars.md.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.routing import Route

from ...engine.lars.engine import outcome
from ...errors import ApiError, Invalid, RateLimited
from ...security import require_scope
from ...store import lars_actions as action_store
from .._http import Body, Out, endpoint, ok, read_body, read_query, register_error_renderer, render_error

log = logging.getLogger("stagent.lars")

PREFIX = "/api/ai-agent/"
CHAT_SCOPE, ACTIONS_SCOPE, APPROVE_SCOPE = "ai-agent:chat", "ai-agent:actions", "admin"
WORKSPACE_HEADER = "X-Workspace-Id"
ERRORS = (400, 401, 403, 404, 429)


def lars_error(exc: ApiError) -> dict:
    code = "METHOD_NOT_ALLOWED" if exc.status == 405 else exc.code.upper()  # one spelling: UPPER_SNAKE
    message = exc.message
    details = None
    if isinstance(exc, Invalid) and exc.is_flatten:
        details = dict(exc.field_errors or {})
        if exc.form_errors:
            details["_"] = exc.form_errors
        first = next((f"{field}: {msgs[0]}" for field, msgs in (exc.field_errors or {}).items() if msgs),
                     (exc.form_errors or [exc.message])[0])
        message = f"Request validation failed: {first}"
    body = {**exc.extra, "success": False, "error": message, "code": code,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if details is not None:
        body["details"] = details
    return body


register_error_renderer(PREFIX, lars_error)


def success(data, status: int = 200):
    return ok({"success": True, "data": data}, status)


def workspace_header(request: Request) -> str:
    value = (request.headers.get(WORKSPACE_HEADER) or "").strip()
    if not value:
        raise Invalid(f"The {WORKSPACE_HEADER} header is required: a project id or 'default'",
                      field_errors={WORKSPACE_HEADER: ["Required: a project id or 'default'"]})
    if len(value) > 200:
        raise Invalid(f"The {WORKSPACE_HEADER} header is too long",
                      field_errors={WORKSPACE_HEADER: ["Too big: expected string to have <=200 characters"]})
    return value


def lars_endpoint(bucket: str, scope: str):
    """Scope, then workspace, then the rate limit; the handler gets (request, workspace) and its
    errors are rendered here, so they carry the rate-limit headers too (a bug's 500 included)."""

    def wrap(fn):
        @functools.wraps(fn)
        async def handler(request: Request):
            require_scope(request, scope)
            lars = request.app.state.lars
            workspace = await lars.workspace(workspace_header(request))
            decision = lars.rate_limits.hit(workspace.id, bucket)
            if not decision.allowed:
                response = render_error(request.url.path, RateLimited(
                    f"Rate limit exceeded: {decision.limit} {bucket} requests per minute for this workspace; "
                    f"retry in {decision.retry_after} s"))
            else:
                try:
                    response = await fn(request, workspace)
                except ApiError as exc:
                    response = render_error(request.url.path, exc)
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    response = render_error(request.url.path,
                                            ApiError("Internal server error; see the daemon log."))
            response.headers.update(decision.headers())
            return response

        return handler

    return wrap


# ---- models -----------------------------------------------------------------------------------

class ChatRequest(Body):
    content: str = Field(min_length=1, max_length=100_000)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)


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


class ClientReferenceOut(Out):
    id: str
    name: str
    domain: str | None


class ChatData(Out):
    content: str
    conversationId: str
    suggestedActions: list[SuggestedActionOut]
    clientReferences: list[ClientReferenceOut]


class ChatOut(Out):
    success: bool
    data: ChatData


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


# ---- routes -----------------------------------------------------------------------------------

@endpoint(body=ChatRequest, response=ChatOut, errors=(*ERRORS, 409, 502))
@lars_endpoint("chat", CHAT_SCOPE)
async def chat(request, workspace):
    """Send a message to Lars; the reply with the actions it suggests and the clients it names."""
    body = await read_body(request, ChatRequest)
    if not body.content.strip():
        raise Invalid("content must not be blank", field_errors={"content": ["must not be blank"]})
    return success(await request.app.state.lars.chat(workspace, body.content, body.conversation_id))


@endpoint(body=ExecuteRequest, response=ExecuteOut, errors=ERRORS)
@lars_endpoint("actions", ACTIONS_SCOPE)
async def execute_action(request, workspace):
    """Execute a suggested action: at once (autoApprove, low/medium risk) or after approval."""
    action_id = request.path_params["actionId"]
    body = await read_body(request, ExecuteRequest)
    if body.action_id is not None and body.action_id != action_id:
        raise Invalid("actionId in the body does not match the path",
                      field_errors={"actionId": ["does not match the action id in the path"]})
    return success(await request.app.state.lars.execute(workspace, action_id, bool(body.auto_approve)))


@endpoint(response=ActionOut, errors=ERRORS)
@lars_endpoint("action-status", ACTIONS_SCOPE)
async def get_action(request, workspace):
    """One action with its state, result or error (e.g. after its approval)."""
    return success(await action_store.get(request.app.state.db, workspace.id, request.path_params["actionId"]))


@endpoint(query=ActionListQuery, response=ActionListOut, errors=ERRORS)
@lars_endpoint("action-status", ACTIONS_SCOPE)
async def list_actions(request, workspace):
    """The workspace's actions, newest first; filter by status or conversation."""
    query = read_query(request, ActionListQuery)
    return success(await action_store.list_actions(request.app.state.db, workspace.id, status=query.status,
                                                   conversation_id=query.conversation_id, limit=query.limit))


@endpoint(body=RespondRequest, response=ExecuteOut, errors=ERRORS)
@lars_endpoint("action-status", APPROVE_SCOPE)
async def respond_action(request, workspace):
    """Approve (allow) or reject (deny) an action waiting for approval; needs the admin scope."""
    body = await read_body(request, RespondRequest)
    action = await request.app.state.lars.respond(workspace, request.path_params["actionId"], body.behavior,
                                                  body.message)
    return success(outcome(action))


routes = [
    Route("/api/ai-agent/chat", chat, methods=["POST"]),
    Route("/api/ai-agent/actions", list_actions, methods=["GET"]),
    Route("/api/ai-agent/actions/{actionId}", get_action, methods=["GET"]),
    Route("/api/ai-agent/actions/{actionId}/execute", execute_action, methods=["POST"]),
    Route("/api/ai-agent/actions/{actionId}/respond", respond_action, methods=["POST"]),
]

"""Workflow triggers (extensions; decision 014).

- `GET /api/workflows/{id}/triggers`: the workflow's trigger nodes with what makes them work
  (a webhook's URL, a schedule's id and next fire time), brought in step with the nodes first;
- `POST /api/workflows/{id}/triggers/sync`: the same, for a client that wants to say "now";
- `POST /api/workflows/hooks/{token}`: a webhook trigger's URL. Keyless: the token is the
  credential. The body (JSON or text, at most 64 KB) is the run's input. 202 as execute.
"""

from __future__ import annotations

from starlette.routing import Route

from ...errors import PayloadTooLarge
from .._http import Out, endpoint, ok

HOOK_PATH = "/api/workflows/hooks/"
MAX_INPUT_BYTES = 64 * 1024


class TriggerOut(Out):
    id: str | None
    nodeId: str
    type: str
    kind: str


class TriggersOut(Out):
    workflowId: str
    triggers: list[TriggerOut]


class StartedOut(Out):
    status: str
    workflowId: str
    runNumber: int


def _hook_url(request, token: str) -> str:
    # The Host the caller used (the security middleware allows only the daemon's own names).
    return str(request.base_url).rstrip("/") + HOOK_PATH + token


async def _listing(request) -> dict:
    workflow_id = request.path_params["id"]
    triggers = await request.app.state.workflow_triggers.sync(workflow_id)
    for trigger in triggers:
        token = trigger.pop("token", None)
        if trigger["kind"] == "webhook":
            trigger["url"] = _hook_url(request, token) if token else None
    return {"workflowId": workflow_id, "triggers": triggers}


@endpoint(response=TriggersOut, errors=(404,))
async def list_triggers(request):
    """The workflow's triggers: a webhook's URL, a schedule's id and next fire time (synced first)."""
    return ok(await _listing(request))


@endpoint(response=TriggersOut, errors=(404,))
async def sync_triggers(request):
    """Bring the tokens and schedules in step with the workflow's trigger nodes now."""
    return ok(await _listing(request))


async def _input_text(request) -> str | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_INPUT_BYTES:
            raise PayloadTooLarge(f"A webhook body is at most {MAX_INPUT_BYTES // 1024} KB.")
    text = body.decode("utf-8", errors="replace").strip()
    return text or None


@endpoint(response=StartedOut, status=202, errors=(400, 404, 409, 413))
async def call_webhook(request):
    """Start a run of the workflow this webhook trigger belongs to; the body is the run's input."""
    input_text = await _input_text(request)
    started = await request.app.state.workflow_triggers.fire_webhook(request.path_params["token"], input_text)
    return ok(started, 202)


routes = [
    Route("/api/workflows/hooks/{token}", call_webhook, methods=["POST"]),
    Route("/api/workflows/{id}/triggers", list_triggers, methods=["GET"]),
    Route("/api/workflows/{id}/triggers/sync", sync_triggers, methods=["POST"]),
]

"""/api/profiles/{id}/context: a profile's learned context (3 of §2.7): its versions, the
operator's own additions, and the answer to a proposal (approve, optionally edited; reject;
roll back to a version). Behaviour is in engine/learning/context.py."""

from __future__ import annotations

from starlette.routing import Route

from ..errors import ApiError, Invalid
from ._http import endpoint, ok, read_body


def _engine(request):
    return request.app.state.learned_context


@endpoint()
async def get_context(request):
    """{history (learned_context rows, newest first), currentSize, limit, maxSize, needsSummarization}."""
    return ok(await _engine(request).overview(request.path_params["id"]))


@endpoint(errors=(400,))
async def add_context(request):
    """The operator adds to the context directly (an approved version at once)."""
    data = await read_body(request, plain=True)
    additions = data.get("additions")
    if not isinstance(additions, str) or not additions.strip():
        raise Invalid("additions is required")
    await _engine(request).add(request.path_params["id"], additions)
    return ok({"ok": True})


@endpoint(errors=(400,))
async def answer_context(request):
    """action approve | reject (notificationId; editedContent? when approving) | rollback
    (targetVersion). Every failure is a 400 with its reason, as the original answers."""
    data = await read_body(request, plain=True)
    action, engine = data.get("action"), _engine(request)
    try:
        if action in ("approve", "reject"):
            notification_id, edited = data.get("notificationId"), data.get("editedContent")
            if not isinstance(notification_id, str) or not notification_id:
                raise Invalid("notificationId is required")
            if edited is not None and (action != "approve" or not isinstance(edited, str) or not edited.strip()):
                raise Invalid("editedContent must be non-blank text, and only when approving")
            await engine.decide_notification(notification_id, action, edited=edited)
        elif action == "rollback":
            version = data.get("targetVersion")
            if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 2**31:
                raise Invalid("targetVersion (a positive integer) is required")
            await engine.rollback(request.path_params["id"], version)
        else:
            raise Invalid("action must be one of approve, reject, rollback")
    except ApiError as exc:
        raise Invalid(exc.message) from None
    return ok({"ok": True})


routes = [
    Route("/api/profiles/{id}/context", get_context, methods=["GET"]),
    Route("/api/profiles/{id}/context", add_context, methods=["POST"]),
    Route("/api/profiles/{id}/context", answer_context, methods=["PATCH"]),
]

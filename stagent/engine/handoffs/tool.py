"""The send_handoff task tool: an agent hands work to another profile's agent. Registered in
TASK_TOOLS through the one registry (engine/agent/tools.py); imported by engine/agent/toolbox.py.
The handoff is stored at once; one that waits for approval is announced on the event bus (the
Inbox and the UI stream show it at once, as for a handoff sent through the API); the handoff
watch (engine.py) turns an accepted one into a task when the sending run ends, so the recipient
works on the sender's finished context. A profile offers it when its `allowedTools` name it
(`send_handoff` or the original's `Handoff`), or has no list."""

from __future__ import annotations

from ...errors import ApiError
from ...events import NotificationCreated
from ..agent.tools import ToolContext, ToolError, text_arg, tool
from ..profiles.registry import ProfileRegistry
from .engine import send


@tool("send_handoff",
      "Hand a piece of work to another agent profile (for example 'researcher', 'code-reviewer'). "
      "It becomes a task of that profile once this run ends (after the user approves it when "
      "requiresApproval is true). Handoff chains are limited in depth.",
      {"toProfileId": {"type": "string", "description": "the recipient profile id"},
       "subject": {"type": "string"}, "body": {"type": "string", "description": "what to do, with the context needed"},
       "priority": {"type": "integer", "minimum": 0, "maximum": 3},
       "requiresApproval": {"type": "boolean"}},
      ("toProfileId", "subject", "body"))
async def send_handoff(ctx: ToolContext, args: dict) -> dict:
    priority = args.get("priority", 2)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 3:
        raise ToolError("priority must be an integer from 0 to 3")
    fields = {"from_profile_id": ctx.task.get("agentProfile") or "general",
              "to_profile_id": text_arg(args, "toProfileId", required=True, limit=100),
              "subject": text_arg(args, "subject", required=True, limit=200),
              "body": text_arg(args, "body", required=True, limit=8000),
              "priority": priority, "requires_approval": args.get("requiresApproval") is True,
              "task_id": ctx.task["id"]}
    try:
        handoff = await send(ctx.db, ProfileRegistry(ctx.db), fields)
    except ApiError as exc:
        raise ToolError(exc.message) from None
    if handoff["notificationId"] and getattr(ctx, "events", None) is not None:  # waits in the Inbox: say so now
        ctx.events.publish(NotificationCreated(handoff["notificationId"], handoff["taskId"], "agent_message"))
    return {"handoffId": handoff["id"], "status": handoff["status"], "chainDepth": handoff["chainDepth"]}

"""How a profile shapes a run that names it (task, workflow step, scheduled firing).

- `assign`: a task with no profile (or `auto`) gets one from the classifier, saved on the task
  with a `profile_assigned` log line saying why; an unknown profile, or one that does not
  support the task's runtime, is an Invalid (400) and changes nothing.
- `shape`: the system prompt (the task agent's base prompt, then the profile's SKILL.md body,
  its runtime instructions and output format), the tool filter (`allowedTools`, the original's
  names mapped through permission_patterns ALIASES), the policy layer (`canUseToolPolicy`:
  autoDeny, then autoApprove, before the user's allow-lists and approvals), max turns, the
  model override (`capabilityOverrides.<runtime>.modelId`) and the profile's MCP servers.

Invariant: a run that names no profile, or whose profile is gone, runs exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import Invalid
from ..agent.tools import ToolSet
from ..governance import permission_patterns as patterns
from ..governance.permissions import Decision
from .classifier import classify
from .registry import ProfileRegistry, check_runtime
from .schema import skill_body

ALWAYS_OFFERED = frozenset({"update_output"})  # setting the run's own result is never withheld


async def assign(registry: ProfileRegistry, task: dict,
                 log_line: Callable[[str, dict], None] | None = None) -> dict:
    """The task with its profile settled (auto-picked when it had none; the run saves the pick
    with its session, engine/tasks/session.py: load_session)."""
    runtime = task.get("assignedAgent")
    chosen = task.get("agentProfile")
    if not chosen or chosen == "auto":
        candidates = await registry.list(None)
        chosen, why = classify(task.get("title") or "", task.get("description"), candidates, runtime)
        if log_line is not None:
            log_line("profile_assigned", {"profile": chosen, "reason": why})
        task = {**task, "agentProfile": chosen}
    profile = await registry.find(chosen, task.get("projectId"))
    if profile is None:
        raise Invalid(f"Unknown profile '{chosen}'")
    check_runtime(profile, runtime)
    return task


async def check_named(registry: ProfileRegistry | None, profile_id: str | None, runtime_id: str | None,
                      project_id: str | None) -> str | None:
    """The profile id a conversation stores ("" clears it: None); Invalid (400) for `auto`, an
    unknown profile or one that does not support the runtime."""
    profile_id = (profile_id or "").strip() or None
    if profile_id is not None and registry is not None:
        if profile_id == "auto":
            raise Invalid("A conversation names its profile; 'auto' is for tasks")
        await registry.check_reference(profile_id, runtime_id, project_id, flatten=False)
    return profile_id


def model_override(profile: dict | None, runtime_id: str | None) -> str | None:
    overrides = (profile or {}).get("capabilityOverrides") or {}
    entry = overrides.get(runtime_id) if runtime_id else None
    if entry is None and len(overrides) == 1:
        entry = next(iter(overrides.values()))
    model = (entry or {}).get("modelId")
    return model if isinstance(model, str) and model else None


def system_prompt(base: str, profile: dict | None, runtime_id: str | None = None) -> str:
    if profile is None:
        return base
    body = skill_body(profile.get("skillMd") or "")
    parts = [base, f"## Profile: {profile['name']}\n\n{body.strip()}" if body.strip() else
             f"## Profile: {profile['name']}"]
    override = ((profile.get("runtimeOverrides") or {}).get(runtime_id or "") or {}).get("instructions")
    if isinstance(override, str) and override.strip():
        parts.append(override.strip())
    if profile.get("outputFormat"):
        parts.append(f"Format your final answer as: {profile['outputFormat']}")
    return "\n\n".join(parts)


def _names(entries: list[str]) -> list[patterns.Pattern]:
    found = []
    for entry in entries:
        try:
            found.append(patterns.Pattern(patterns.parse(entry).name))
        except patterns.PatternError:
            continue
    return found


def limit_tools(tool_set: ToolSet, allowed_tools: list[str] | None) -> ToolSet:
    """The tools a profile's `allowedTools` lets through (None: all). `Read`, `Bash`... mean
    read_file, run_command...; `mcp__server__*` globs work."""
    if allowed_tools is None:
        return tool_set
    names = _names(allowed_tools)
    keep = [t for t in tool_set if t.name in ALWAYS_OFFERED
            or any(patterns.matches(p, t.name, {}) for p in names)]
    return ToolSet(tool_set.name, keep)


class ProfilePermissions:
    """The permission layer with a profile's `canUseToolPolicy` in front: autoDeny refuses,
    autoApprove allows, anything else goes to the app's Permissions as before."""

    def __init__(self, inner, profile: dict) -> None:
        self.inner, self.profile = inner, profile
        policy = profile.get("canUseToolPolicy") or {}
        self.deny = list(policy.get("autoDeny") or [])
        self.approve = list(policy.get("autoApprove") or [])

    async def check_tool(self, *, tool: str, args: dict, **kw) -> Decision:
        if (pattern := patterns.allowed_by(self.deny, tool, args)) is not None:
            return Decision(False, args, f"Denied by the policy of profile '{self.profile['id']}' ({pattern})")
        if patterns.allowed_by(self.approve, tool, args) is not None:
            return Decision(True, args)
        return await self.inner.check_tool(tool=tool, args=args, **kw)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@dataclass
class RunShape:
    profile: dict | None
    max_turns: int | None

    def prompt(self, base: str, runtime_id: str | None) -> str:
        return system_prompt(base, self.profile, runtime_id)

    def tools(self, tool_set: ToolSet) -> ToolSet:
        allowed = (self.profile or {}).get("allowedTools")
        if allowed is not None:  # the profile's own MCP servers are offered whole
            allowed = [*allowed, *(f"mcp__{name}__*" for name in self.mcp_servers)]
        return limit_tools(tool_set, allowed)

    def permissions(self, inner):
        policy = (self.profile or {}).get("canUseToolPolicy")
        return ProfilePermissions(inner, self.profile) if policy else inner

    @property
    def mcp_servers(self) -> dict:
        return (self.profile or {}).get("mcpServers") or {}


async def shape(registry: ProfileRegistry, task: dict) -> RunShape:
    profile = await registry.find(task["agentProfile"], task.get("projectId")) if task.get("agentProfile") else None
    return RunShape(profile, (profile or {}).get("maxTurns"))

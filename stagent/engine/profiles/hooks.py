"""A profile's hooks: shell commands run around each tool call of a task run that names it
(ProfileConfig `hooks: {preToolCall?, postToolCall?}`, each a command or a list of commands).

- They run like run_command (engine/agent/shell.py): bash in the task's working directory, its
  own process tree killed at the end, no credentials in the environment, secrets masked, at most
  HOOK_SECONDS each. The call is described in the environment: STAGENT_HOOK_EVENT,
  STAGENT_TASK_ID, STAGENT_TOOL_NAME, STAGENT_TOOL_INPUT (JSON) and, after the call,
  STAGENT_TOOL_RESULT.
- preToolCall runs after the call was allowed and before it runs; a command that fails (non-zero
  exit, or its timeout) blocks the call, and the model reads the hook's output as the reason
  (as a Claude Code PreToolUse hook can). postToolCall runs after a call that succeeded; its
  failure is only logged.
- Every hook run is a `hook` log line (event, tool, command, exit code, output).

Invariant: a hook runs only when the user's own allow-list lets run_command run that command
(`Bash`, `Bash(./scripts/*)`...): a profile, imported or not, cannot make stagent run a
command nobody allowed. A hook that is not allowed, or a run with no working directory, skips it
with one `hook_skipped` log line per command and run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ...db import Database
from ...store import permissions as allow_store
from ..agent import shell
from ..agent.tools import Tool, ToolError, ToolSet, in_data_folder
from ..governance import permission_patterns as patterns

EVENTS = ("preToolCall", "postToolCall")
HOOK_SECONDS = 60.0
ENV_LIMIT = 32_000   # characters of the tool input / result put into the environment
LOG_OUTPUT = 4_000   # characters of a hook's output in its log line


def commands(profile: dict | None, event: str) -> list[str]:
    value = ((profile or {}).get("hooks") or {}).get(event)
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [c.strip() for c in items if isinstance(c, str) and c.strip()]


class Hooks:
    def __init__(self, db: Database, task: dict, working_dir: Path | None, profile: dict,
                 log: Callable[[str, dict], None]) -> None:
        self.db, self.task, self.working_dir, self.profile, self.log = db, task, working_dir, profile, log
        self.skipped: set[str] = set()

    async def _runnable(self, command: str) -> bool:
        why = None
        if self.working_dir is None or not self.working_dir.is_absolute() or not self.working_dir.is_dir():
            why = "the task's project has no working directory"
        elif in_data_folder(self, self.working_dir.resolve()):  # reads self.db.path
            why = "the working directory is inside stagent's own data folder"
        else:
            allow = await allow_store.effective_allow(self.db, self.task.get("projectId"),
                                                      self.task.get("agentProfile"))
            if patterns.allowed_by(allow, "run_command", {"command": command}) is None:
                why = f"no permission pattern allows it as a command; allow it with Bash({command}) or Bash"
        if why is not None and command not in self.skipped:
            self.skipped.add(command)
            self.log("hook_skipped", {"profile": self.profile["id"], "command": command, "reason": why})
        return why is None

    async def fire(self, event: str, tool: str, args: dict, result: str | None = None) -> None:
        """Run the event's commands in order; ToolError when a preToolCall command fails."""
        for command in commands(self.profile, event):
            if not await self._runnable(command):
                continue
            secrets = tuple(sorted(await shell.known_secrets(self.db), key=len, reverse=True))
            env = shell.scrubbed_env(dict(os.environ), secrets)
            env.update(STAGENT_HOOK_EVENT=event, STAGENT_TASK_ID=self.task["id"], STAGENT_TOOL_NAME=tool,
                       STAGENT_TOOL_INPUT=json.dumps(args, ensure_ascii=False)[:ENV_LIMIT])
            if result is not None:
                env["STAGENT_TOOL_RESULT"] = result[:ENV_LIMIT]
            try:
                status, output = await shell.run_shell(command, self.working_dir, env, HOOK_SECONDS, secrets=secrets)
            except OSError as exc:
                status, output = 127, f"could not start the hook: {exc}"
            self.log("hook", {"event": event, "tool": tool, "command": command, "exitCode": status,
                              "output": output[:LOG_OUTPUT]})
            if event == "preToolCall" and status != 0:
                how = "timed out" if status is None else shell.describe_status(status)
                raise ToolError(f"the profile's preToolCall hook blocked this call ({how}): "
                                f"{output.strip()[:2000] or '(no output)'}")

    def wrap(self, tools: ToolSet) -> ToolSet:
        """The tool set with each tool's run between the hooks."""

        def wrapped(tool: Tool) -> Tool:
            async def run(ctx, args: dict):
                await self.fire("preToolCall", tool.name, args)
                result = await tool.run(ctx, args)
                text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
                await self.fire("postToolCall", tool.name, args, text)
                return result

            return Tool(tool.name, tool.description, tool.parameters, run)

        return ToolSet(tools.name, (wrapped(t) for t in tools))


def wrap(tools: ToolSet, profile: dict | None, db: Database, task: dict, working_dir: Path | None,
         log: Callable[[str, dict], None]) -> ToolSet:
    """`tools` unchanged when the profile has no hooks, else each tool between them."""
    if profile is None or not any(commands(profile, event) for event in EVENTS):
        return tools
    return Hooks(db, task, working_dir, profile, log).wrap(tools)

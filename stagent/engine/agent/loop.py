"""The one agent loop every surface drives: budget check → stream a completion → charge → tool
calls behind a permission check → repeat, until the model answers without tool calls.

A task run and a chat turn (Stagent chat, Stan, Lars, channel chat) differ only in their tool
set, their messages and their `Surface`: the event sink (log lines or SSE events), the keys of
the budget reservation and of the permission checks (a task, or a conversation), and what a
permission request tells the user.

Invariants:
- no provider call is made before Budgets.check_call allowed it (its predicted cost stays
  reserved under the surface's run key until charged), and every completion is charged;
- a tool call runs only if its tool is in the loop's set, its arguments are a JSON object
  (otherwise it is answered at once and nobody is asked) and Permissions.check_tool allows it;
  a human's edit of the input is what runs, what the surface records, and what the model is told;
- a step's assistant message is in `messages` before its calls run, and each result right
  after its call, so a surface that saves the conversation while a call waits saves one that
  can be continued.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass

from ..governance.permissions import Decision
from . import llm
from .providers import ModelTarget
from .tools import ToolSet, parse_arguments, run_tool


@dataclass
class Usage:
    """What the loop's completions used, summed over its steps."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    priced: bool = True  # every completion had a known price

    def add(self, completion: llm.Completion) -> None:
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.cost_micros += completion.cost_micros
        self.priced = self.priced and completion.priced

    def as_dict(self) -> dict:
        return {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens,
                "costMicros": self.cost_micros}


class Surface:
    """What one surface adds to the loop. Every hook does nothing unless overridden."""

    run_key: str                   # the budget reservation the steps are checked and charged under
    task_id: str | None = None     # the task budget alerts name
    project_id: str | None = None  # budgets and allow-lists of this project apply

    def permission_scope(self) -> dict:
        """How Permissions.check_tool keys a request: `task=` or `conversation_id=` (and `profile=`)."""
        return {}

    async def before_step(self, usage: Usage) -> None:
        """Before a step's budget check; raising stops the loop (a task's own budget)."""

    async def step_started(self) -> None:
        """The step passed its budget check; its completion streams next."""

    def on_text(self, chunk: str) -> Awaitable[None] | None:
        """A piece of streamed text."""

    def on_retry(self, attempt: int, error: llm.ProviderError, delay: float) -> Awaitable[None] | None:
        """The provider failed; the step starts over after `delay` seconds."""

    async def on_completion(self, completion: llm.Completion) -> None:
        """A step's completion, charged."""

    async def on_tool_call(self, call: dict, args: dict) -> None:
        """A tool call is about to be checked and run (not repeated for calls continued after a restart)."""

    async def before_permission_request(self) -> None:
        """A human is about to be asked about a call (the request is not committed yet)."""

    async def on_permission_request(self, notification: dict, call: dict, args: dict) -> None:
        """A human is asked about the call; the loop waits for the answer next."""

    async def on_permission_answer(self, call: dict, decision: Decision) -> None:
        """Permissions decided about the call (by a rule, or by the human who was asked)."""

    async def on_tool_result(self, call: dict, args: dict, result: str) -> None:
        """The call's result; `args` are what it ran with (a human may have edited them)."""

    async def on_step_done(self, completion: llm.Completion, assistant: dict, results: list[dict]) -> None:
        """A step's tool calls all have their results (both are already in `messages`)."""

    def step_limit_message(self, max_steps: int) -> str:
        return f"Stopped after {max_steps} model steps without a final answer"


class AgentLoop:
    def __init__(self, surface: Surface, target: ModelTarget, tools: ToolSet, tool_context: object, *,
                 budgets, permissions, max_steps: int, retry_base_delay: float = 0.5,
                 request_timeout: float = 120.0, schemas: list[dict] | None = None) -> None:
        self.surface, self.target, self.tools, self.tool_context = surface, target, tools, tool_context
        self.budgets, self.permissions = budgets, permissions
        self.max_steps = max_steps
        self.retry_base_delay = retry_base_delay
        self.request_timeout = request_timeout
        self.schemas = tools.schemas() if schemas is None else schemas
        self.usage = Usage()

    async def check_budget(self, messages: list[dict]) -> int | None:
        """Raise BudgetExceeded before a call that would cross a cap; returns its max_tokens."""
        surface = self.surface
        return await self.budgets.check_call(self.target, messages, project_id=surface.project_id,
                                             tools=self.schemas or None, task_id=surface.task_id,
                                             run_key=surface.run_key)

    async def run(self, messages: list[dict], *, first_step_checked: bool = False,
                  max_tokens: int | None = None) -> llm.Completion:
        """Steps until the model answers; returns that last completion (its text is appended to
        `messages`). With `first_step_checked` the caller already ran check_budget for the
        first step, and `max_tokens` is what it returned. Raises ProviderError at the step limit."""
        surface = self.surface
        for step in range(self.max_steps):
            await surface.before_step(self.usage)
            if step or not first_step_checked:
                max_tokens = await self.check_budget(messages)
            await surface.step_started()
            completion = await llm.stream_completion(
                self.target, messages, tools=self.schemas or None, on_text=surface.on_text,
                on_retry=surface.on_retry, base_delay=self.retry_base_delay, timeout=self.request_timeout,
                max_tokens=max_tokens)
            completion.cost_micros, completion.priced = await self.budgets.charge(
                surface.run_key, self.target, completion, project_id=surface.project_id)
            self.usage.add(completion)
            await surface.on_completion(completion)
            if not completion.tool_calls:
                messages.append({"role": "assistant", "content": completion.text})
                return completion
            assistant = {"role": "assistant", "content": completion.text or None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in completion.tool_calls]}
            messages.append(assistant)
            results = await self.call_tools(messages, completion.tool_calls)
            await surface.on_step_done(completion, assistant, results)
        raise llm.ProviderError(surface.step_limit_message(self.max_steps))

    async def call_tools(self, messages: list[dict], calls: list[dict], *, announce: bool = True) -> list[dict]:
        """Run tool calls ({id, name, arguments (JSON text)}) in order, appending each result
        to `messages`; returns the result messages. `announce=False` continues calls whose
        start was already announced (a run continued after a restart)."""
        results = []
        for call in calls:
            result = {"role": "tool", "tool_call_id": call["id"], "content": await self._call(call, announce)}
            messages.append(result)
            results.append(result)
        return results

    async def _call(self, call: dict, announce: bool) -> str:
        surface, name = self.surface, call["name"]
        args = parse_arguments(call["arguments"])
        ran_with = args if args is not None else {}
        if announce:
            await surface.on_tool_call(call, ran_with)
        if name not in self.tools:  # nothing to ask a human about
            result = f"error: unknown tool '{name}'; the tools are: {', '.join(t.name for t in self.tools) or 'none'}"
        elif args is None:
            result = "error: the arguments must be a JSON object"
        else:
            async def on_request(notification: dict) -> None:
                await surface.on_permission_request(notification, call, args)

            decision = await self.permissions.check_tool(
                tool=name, args=args, project_id=surface.project_id, on_request=on_request,
                before_request=surface.before_permission_request,
                tool_call_id=call["id"], **surface.permission_scope())
            await surface.on_permission_answer(call, decision)
            if decision.allowed:
                ran_with = decision.args
                result = await run_tool(self.tools, self.tool_context, name, decision.args)
                if decision.args != args:  # the model must know its call ran with other input
                    edited = json.dumps(decision.args, ensure_ascii=False)
                    result = f"(The user changed this call's input before it ran; it ran with: {edited})\n{result}"
            else:
                result = f"Permission denied: {decision.message or 'the user did not allow this tool call'}"
        await surface.on_tool_result(call, ran_with, result)
        return result

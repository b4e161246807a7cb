"""One running turn of a conversation: stream a step, run its tool calls, repeat, store.

Invariants:
- each model step is budget-checked first (its predicted cost stays reserved under the turn's
  run key until charged) and charged after; ConversationEngine.send settles the run key once,
  when the turn ends;
- a tool call runs only if the tool is in the turn's tool set (an unknown name is answered
  at once, without asking a human) and Permissions.check_tool allows it; a human's edit of the
  input is what runs, what is recorded, and what the model is told;
- a step's assistant tool calls commit together with their results; the reply commits
  together with its usage_ledger row (`chat_turn`);
- a failed or cancelled turn still stores its assistant message (status `error`), which is
  never replayed into a later prompt.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...db.rows import loads, new_id, now_iso
from ...errors import ApiError, UpstreamError
from ...store import conversations as store
from ...store import tasks as task_store
from ..agent import llm
from ..agent.providers import ModelTarget
from ..agent.tools import Tool, ToolError
from . import context

log = logging.getLogger("stagent.conversation")

EventSink = Callable[[dict], Awaitable[None]]
INCOMPLETE_KEEP_CHARS = 50  # a reply cut off after this much text is kept, marked incomplete


@dataclass
class Reply:
    message_id: str
    content: str
    tool_calls: list[dict]  # [{id, name, arguments (dict), result (str)}]
    usage: dict             # {inputTokens, outputTokens, costMicros}
    model: str
    is_complete: bool = True


def turn_error_message(exc: BaseException) -> str:
    """What the user and the stored reply are told about an exception that ended a turn."""
    message = getattr(exc, "message", None)
    if message is None:
        log.error("chat turn crashed", exc_info=exc)
        message = f"internal error: {type(exc).__name__}: {exc}"
    return message


class Turn:
    """The state of one running turn: the streamed text, the tool calls, the usage."""

    def __init__(self, engine, conv: dict, target: ModelTarget, emit: EventSink, toolset: list[Tool],
                 tool_context: object):
        self.engine, self.conv, self.target, self.emit = engine, conv, target, emit
        self.budgets = engine.budgets
        self.tools = {t.name: t for t in toolset}
        self.tool_context = tool_context
        self.reply_id = new_id()
        self.run_key = f"chat-turn:{self.reply_id}"  # the budget reservation of this turn
        self.calls: list[dict] = []
        self.usage = {"inputTokens": 0, "outputTokens": 0, "costMicros": 0}
        self.priced = True
        self.text = ""        # all text streamed this turn
        self.step_text = ""   # text of the current model step
        self.started = now_iso()
        self.last_step: llm.Completion | None = None

    async def on_text(self, chunk: str) -> None:
        if not self.step_text and self.text:
            await self.emit({"type": "delta", "content": "\n\n"})  # between the text of two steps
            self.text += "\n\n"
        self.step_text += chunk
        self.text += chunk
        await self.emit({"type": "delta", "content": chunk})

    async def on_retry(self, attempt: int, error: llm.ProviderError, delay: float) -> None:
        # The step starts over: what it streamed so far is not part of the reply.
        self.text = self.text[:len(self.text) - len(self.step_text)]
        self.step_text = ""
        await self.emit({"type": "status", "phase": "retrying",
                         "message": f"Provider error ({error.message}); retry {attempt} in {delay:.1f} s"})

    async def check_budget(self, messages: list[dict], schemas: list[dict]) -> int | None:
        """Raise BudgetExceeded before a step; returns the max_tokens to send."""
        return await self.budgets.check_call(self.target, messages, project_id=self.conv.get("projectId"),
                                             tools=schemas or None, run_key=self.run_key)

    async def run(self, messages: list[dict], schemas: list[dict], max_tokens: int | None) -> Reply:
        """Steps until the model answers. `max_tokens` is what the first step's check returned."""
        engine = self.engine
        await self.emit({"type": "status", "phase": "connecting", "message": f"Asking {self.target.model}"})
        try:
            for step in range(engine.max_steps):
                if step:
                    max_tokens = await self.check_budget(messages, schemas)
                self.step_text, self.last_step = "", None
                completion = await llm.stream_completion(
                    self.target, messages, tools=schemas or None, on_text=self.on_text,
                    on_retry=self.on_retry,
                    base_delay=engine.retry_base_delay, timeout=engine.request_timeout, max_tokens=max_tokens)
                completion.cost_micros, completion.priced = await self.budgets.charge(
                    self.run_key, self.target, completion, project_id=self.conv.get("projectId"))
                self._add_usage(completion)
                self.last_step = completion
                if not completion.tool_calls:
                    return await self._finish(completion.text, complete=True)
                await self._run_tools(messages, completion)
            raise llm.ProviderError(f"Stopped after {engine.max_steps} model steps without a final answer")
        except asyncio.CancelledError:
            await asyncio.shield(self.fail("interrupted: the turn was cancelled", "cancelled"))
            raise
        except Exception as exc:  # provider errors, a budget cap reached mid-turn, bugs
            message = turn_error_message(exc)
            if len(self.step_text) >= INCOMPLETE_KEEP_CHARS:  # keep what was said, marked incomplete
                return await self._finish(self.step_text + "\n\n_(reply incomplete: " + message + ")_",
                                          complete=False)
            await self.fail(message, "failed")
            if isinstance(exc, ApiError):
                raise
            raise UpstreamError(message) from None

    def _add_usage(self, completion: llm.Completion) -> None:
        self.usage["inputTokens"] += completion.input_tokens
        self.usage["outputTokens"] += completion.output_tokens
        self.usage["costMicros"] += completion.cost_micros
        self.priced = self.priced and completion.priced

    async def _run_tools(self, messages: list[dict], completion: llm.Completion) -> None:
        engine, model = self.engine, self.target.model
        assistant = {"role": "assistant", "content": completion.text or None, "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in completion.tool_calls]}
        results = []
        for call in completion.tool_calls:
            args = loads(call["arguments"], None)
            args = args if isinstance(args, dict) else {}
            await self.emit({"type": "status", "phase": "tool_use", "message": f"Using {call['name']}"})
            await self.emit({"type": "tool_call", "toolCallId": call["id"], "name": call["name"], "arguments": args})
            result, args = await self._call_tool(call, args)
            await self.emit({"type": "tool_result", "toolCallId": call["id"], "name": call["name"],
                             "result": result[:2000]})
            self.calls.append({"id": call["id"], "name": call["name"], "arguments": args, "result": result})
            results.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        messages.append(assistant)
        messages.extend(results)
        counts = await asyncio.to_thread(lambda: [context.count(model, [m]) for m in (assistant, *results)])

        def persist(conn):
            store.insert_message(conn, self.conv["id"], {
                "role": "assistant", "content": completion.text, "tool_calls": assistant["tool_calls"],
                "model": model, "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens, "token_count": counts[0]})
            for result, token_count in zip(results, counts[1:], strict=True):
                store.insert_message(conn, self.conv["id"], {**result, "model": model, "token_count": token_count})
            store.touch(conn, self.conv["id"])

        await engine.db.write(persist)

    async def _call_tool(self, call: dict, args: dict) -> tuple[str, dict]:
        """(the result the model reads, the arguments the tool ran with)."""
        name = call["name"]
        if name not in self.tools:  # nothing to ask a human about
            return f"error: unknown tool '{name}'; the tools are: {', '.join(self.tools) or 'none'}", args
        decision = await self.engine.permissions.check_tool(
            tool=name, args=args, conversation_id=self.conv["id"], project_id=self.conv.get("projectId"),
            on_request=self._on_permission(name, args), tool_call_id=call["id"])
        if not decision.allowed:
            return f"Permission denied: {decision.message or 'the user did not allow this tool call'}", args
        result = await run_tool(self.tools, self.tool_context, name, decision.args)
        if decision.args != args:  # the model must know its call ran with other input
            edited = json.dumps(decision.args, ensure_ascii=False)
            result = f"(The user changed this call's input before it ran; it ran with: {edited})\n{result}"
        return result, decision.args

    def _on_permission(self, tool: str, args: dict):
        async def request(notification: dict) -> None:
            request_id = notification.get("id") or notification.get("requestId")
            event = {"requestId": request_id, "messageId": self.reply_id}
            if notification.get("questions"):
                await self.emit({"type": "question", **event, "questions": notification["questions"]})
            else:
                await self.emit({"type": "permission_request", **event,
                                 "toolName": notification.get("toolName") or tool, "toolInput": args})

        return request

    async def _finish(self, text: str, *, complete: bool) -> Reply:
        model = self.target.model
        metadata = {"model": model, "runtimeId": self.target.runtime_id, "usage": self.usage,
                    "toolCalls": [{k: c[k] for k in ("id", "name", "arguments")} for c in self.calls]}
        if not complete:
            metadata["incomplete"] = True
        status = "completed" if self.priced else "unknown_pricing"
        token_count = await asyncio.to_thread(context.count, model, [{"role": "assistant", "content": text}])

        def persist(conn):
            store.insert_message(conn, self.conv["id"], {
                "id": self.reply_id, "role": "assistant", "content": text, "metadata": metadata,
                "model": model, "input_tokens": self.last_step.input_tokens if self.last_step else None,
                "output_tokens": self.last_step.output_tokens if self.last_step else None,
                "token_count": token_count})
            store.touch(conn, self.conv["id"])
            task_store.record_usage_in(conn, ledger_entry(self.conv, self.target, "chat_turn", status, self.usage,
                                                          self.started))

        await self.engine.db.write(persist)
        reply = Reply(self.reply_id, text, self.calls, dict(self.usage), model, complete)
        await self.emit({"type": "done", "messageId": self.reply_id, "usage": dict(self.usage), "model": model,
                         "isComplete": complete})
        return reply

    async def fail_before_start(self, exc: BaseException, content: str, source: str, token_count: int) -> str:
        """The turn failed after its first event but before the user message was stored: keep
        that message (so the next turn's event ids are higher) and a failed reply, and send the
        `error` event. Returns the error message."""
        try:
            await self.engine.db.write(lambda conn: store_user_message(conn, self.conv, content, source, token_count))
        except Exception:  # the conversation was deleted meanwhile
            log.info("could not record the message of conversation %s", self.conv["id"])
        if isinstance(exc, asyncio.CancelledError):
            message, status = "interrupted: the turn was cancelled", "cancelled"
        else:
            message, status = turn_error_message(exc), "failed"
        await self.fail(message, status)
        return message

    async def fail(self, message: str, status: str) -> None:
        """Store the reply as failed (status `error`, never replayed) and send the `error` event."""

        def persist(conn):
            store.insert_message(conn, self.conv["id"], {
                "id": self.reply_id, "role": "assistant", "content": self.step_text, "status": "error",
                "metadata": {"model": self.target.model, "error": message, "usage": self.usage},
                "model": self.target.model})
            store.touch(conn, self.conv["id"])
            if self.usage["inputTokens"] or self.usage["outputTokens"]:
                task_store.record_usage_in(conn, ledger_entry(self.conv, self.target, "chat_turn", status,
                                                              self.usage, self.started))

        try:
            await self.engine.db.write(persist)
        except Exception:  # the conversation may have been deleted mid-turn
            log.info("could not record the failed turn of conversation %s", self.conv["id"])
        await self.emit({"type": "error", "message": message})


async def run_tool(tools: dict[str, Tool], ctx: object, name: str, args: dict) -> str:
    """Run one tool call; every failure becomes an error string for the model."""
    spec = tools.get(name)
    if spec is None:
        return f"error: unknown tool '{name}'"
    try:
        result = await spec.run(ctx, args)
    except ToolError as exc:
        return f"error: {exc}"
    except (ValueError, TypeError, KeyError, OSError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def store_user_message(conn, conv: dict, content: str, source: str, token_count: int) -> dict:
    """The user's message, inside the caller's transaction; the first one names the conversation."""
    row = store.insert_message(conn, conv["id"], {"role": "user", "content": content, "source": source,
                                                  "token_count": token_count})
    if conv.get("title"):
        store.touch(conn, conv["id"])
    else:
        title = " ".join(content.split())
        store.touch(conn, conv["id"], title=title if len(title) <= 60 else title[:57] + "...")
    return row


def prompt_message(row: dict) -> dict:
    if row["role"] == "tool":
        return {"role": "tool", "tool_call_id": row["tool_call_id"], "content": row["content"]}
    if row["role"] == "assistant" and row["tool_calls"]:
        return {"role": "assistant", "content": row["content"] or None, "tool_calls": json.loads(row["tool_calls"])}
    return {"role": row["role"], "content": row["content"]}


def ledger_entry(conv: dict, target: ModelTarget, activity: str, status: str, usage, started: str) -> dict:
    if isinstance(usage, llm.Completion):
        usage = {"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
                 "costMicros": usage.cost_micros}
    return {"project_id": conv.get("projectId"), "activity_type": activity, "runtime_id": target.runtime_id,
            "provider_id": target.provider, "model_id": target.model, "status": status,
            "input_tokens": usage["inputTokens"], "output_tokens": usage["outputTokens"],
            "cost_micros": usage["costMicros"], "pricing_version": "litellm-local",
            "started_at": started, "finished_at": now_iso()}

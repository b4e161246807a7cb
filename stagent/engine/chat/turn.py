"""One running turn of a conversation: the chat surface of the agent loop (engine/agent/loop.py),
which streams a step, runs its tool calls and repeats; the turn turns that into events and
stored messages.

Invariants:
- each model step is budget-checked first (its predicted cost stays reserved under the turn's
  run key until charged) and charged after; ConversationEngine.send settles the run key once,
  when the turn ends;
- tool calls follow the loop's rules (an unknown tool is answered at once without asking a
  human; a human's edit of the input is what runs, what is recorded, and what the model is told);
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

from ...db.rows import new_id, now_iso
from ...errors import ApiError, UpstreamError
from ...sanitize import redact
from ...store import conversations as store
from ...store import tasks as task_store
from ..agent import llm
from ..agent.loop import AgentLoop, Surface
from ..agent.providers import ModelTarget
from ..agent.tools import ToolSet
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
        message = redact(f"internal error: {type(exc).__name__}: {exc}")  # it may quote a provider
    return message


class Turn(Surface):
    """The state of one running turn: the streamed text, the tool calls, the usage. It is the
    chat side of the agent loop: SSE events, budget keyed by the turn, permissions by the
    conversation, each step stored as it completes."""

    def __init__(self, engine, conv: dict, target: ModelTarget, emit: EventSink, tools: ToolSet,
                 tool_context: object, *, permissions=None, max_steps: int | None = None):
        self.engine, self.conv, self.target, self.emit = engine, conv, target, emit
        self.reply_id = new_id()
        self.run_key = f"chat-turn:{self.reply_id}"  # the budget reservation of this turn
        self.calls: list[dict] = []
        self.text = ""        # all text streamed this turn
        self.step_text = ""   # text of the current model step
        self.started = now_iso()
        self.last_step: llm.Completion | None = None
        self.loop = AgentLoop(self, target, tools, tool_context, budgets=engine.budgets,
                              permissions=permissions or engine.permissions, max_steps=max_steps or engine.max_steps,
                              retry_base_delay=engine.retry_base_delay, request_timeout=engine.request_timeout)

    @property
    def project_id(self) -> str | None:
        return self.conv.get("projectId")

    @property
    def usage(self) -> dict:
        return self.loop.usage.as_dict()

    def permission_scope(self) -> dict:  # a profile's own allow-list patterns apply too
        return {"conversation_id": self.conv["id"], "profile": self.conv.get("agentProfile")}

    async def step_started(self) -> None:
        self.step_text, self.last_step = "", None

    async def on_completion(self, completion: llm.Completion) -> None:
        self.last_step = completion

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

    async def on_tool_call(self, call: dict, args: dict) -> None:
        await self.emit({"type": "status", "phase": "tool_use", "message": f"Using {call['name']}"})
        await self.emit({"type": "tool_call", "toolCallId": call["id"], "name": call["name"], "arguments": args})

    async def on_permission_request(self, notification: dict, call: dict, args: dict) -> None:
        request_id = notification.get("id") or notification.get("requestId")
        event = {"requestId": request_id, "messageId": self.reply_id}
        if notification.get("questions"):
            await self.emit({"type": "question", **event, "questions": notification["questions"]})
        else:
            await self.emit({"type": "permission_request", **event,
                             "toolName": notification.get("toolName") or call["name"], "toolInput": args})

    async def on_tool_result(self, call: dict, args: dict, result: str) -> None:
        await self.emit({"type": "tool_result", "toolCallId": call["id"], "name": call["name"],
                         "result": result[:2000]})
        self.calls.append({"id": call["id"], "name": call["name"], "arguments": args, "result": result})

    async def on_step_done(self, completion: llm.Completion, assistant: dict, results: list[dict]) -> None:
        """The step's assistant tool calls and their results commit together."""
        model = self.target.model
        counts = await asyncio.to_thread(lambda: [context.count(model, [m]) for m in (assistant, *results)])

        def persist(conn):
            store.insert_message(conn, self.conv["id"], {
                "role": "assistant", "content": completion.text, "tool_calls": assistant["tool_calls"],
                "model": model, "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens, "token_count": counts[0]})
            for result, token_count in zip(results, counts[1:], strict=True):
                store.insert_message(conn, self.conv["id"], {**result, "model": model, "token_count": token_count})
            store.touch(conn, self.conv["id"])

        await self.engine.db.write(persist)

    async def check_budget(self, messages: list[dict]) -> int | None:
        """Raise BudgetExceeded before the first step; returns the max_tokens to send."""
        return await self.loop.check_budget(messages)

    async def run(self, messages: list[dict], max_tokens: int | None) -> Reply:
        """Steps until the model answers. `max_tokens` is what the first step's check returned."""
        await self.emit({"type": "status", "phase": "connecting", "message": f"Asking {self.target.model}"})
        try:
            completion = await self.loop.run(messages, first_step_checked=True, max_tokens=max_tokens)
            return await self._finish(completion.text, complete=True)
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

    async def _finish(self, text: str, *, complete: bool) -> Reply:
        model = self.target.model
        metadata = {"model": model, "runtimeId": self.target.runtime_id, "usage": self.usage,
                    "toolCalls": [{k: c[k] for k in ("id", "name", "arguments")} for c in self.calls]}
        if not complete:
            metadata["incomplete"] = True
        status = "completed" if self.loop.usage.priced else "unknown_pricing"
        token_count = await context.count_soon(model, [{"role": "assistant", "content": text}])

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

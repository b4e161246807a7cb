"""Context accounting and compaction of conversations.

Invariants:
- a message's tokens are counted once, with litellm.token_counter in a worker thread, before
  it is stored (chat_messages.token_count), so the stats of a 500-message conversation are
  one SUM plus the count of the current system prompt (cached by its text);
- compaction never deletes: it stores a summary on the conversation and flags the summarised
  messages `compacted`; prompts then replay summary + the messages after it;
- the kept part of a conversation always starts at a user message, so an assistant's tool
  calls are never separated from their results.

`needsCompaction` is true from COMPACTION_THRESHOLD (80 %) of the model's input window; a
turn whose history plus its new message reaches it compacts first
(docs/decisions/008-conversations.md).
"""

from __future__ import annotations

import asyncio
import functools
import json

from ..agent import llm

DEFAULT_WINDOW = 128_000       # when litellm does not know the model's window
COMPACTION_THRESHOLD = 0.80
DEFAULT_KEEP_RECENT = 10
SUMMARY_MAX_TOKENS = 1024
_EXCERPT = 2000                # characters of one message shown to the summariser

SUMMARY_INSTRUCTIONS = (
    "You summarise a conversation between a user and an assistant so that the assistant can "
    "continue it without the original messages. Keep every fact, decision, name, id, number, "
    "open question and promise the assistant made; drop pleasantries. Write plain prose or short "
    "bullet points, at most 400 words. Reply with the summary only."
)


def count(model: str, messages: list[dict]) -> int:
    """Tokens of `messages` for `model` (litellm.token_counter; ~4 characters a token if the
    tokenizer cannot read them). CPU-bound (~10 ms per 190k characters): past a few thousand
    characters call it through asyncio.to_thread, never on the event loop or inside a writer
    transaction."""
    return llm.count_prompt_tokens(model, messages)


@functools.lru_cache(maxsize=256)
def count_text(model: str, role: str, text: str) -> int:
    """Tokens of one message given by its text (the system prompt); cached by content."""
    return count(model, [{"role": role, "content": text}])


# Tokenising this many characters takes ~0.2 ms: less than handing it to a thread and back.
INLINE_COUNT_CHARS = 4000


async def count_soon(model: str, messages: list[dict]) -> int:
    """count() on the event loop when short, else in a worker thread."""
    if sum(len(str(m.get("content") or "")) for m in messages) <= INLINE_COUNT_CHARS:
        return count(model, messages)
    return await asyncio.to_thread(count, model, messages)


async def count_system_soon(model: str, system: str) -> int:
    """count_text() of a system prompt, on the loop when short (or cached), else in a thread."""
    if len(system) <= INLINE_COUNT_CHARS:
        return count_text(model, "system", system)
    return await asyncio.to_thread(count_text, model, "system", system)


def window(model: str, override: int | None = None) -> int:
    if override:
        return override
    return (llm.max_input_tokens(model) if llm.is_loaded() else None) or DEFAULT_WINDOW


def stats(total: int, max_tokens: int) -> dict:
    return {
        "totalTokens": total,
        "availableTokens": max(max_tokens - total, 0),
        "maxTokens": max_tokens,
        "usagePercentage": round(100 * total / max_tokens) if max_tokens else 100,
        "needsCompaction": total >= COMPACTION_THRESHOLD * max_tokens,
    }


def choose_cut(rows: list[dict], keep_recent: int) -> int:
    """Index of the first row to keep (rows before it get summarised); 0 means nothing to do.

    Keeps at least `keep_recent` rows, moving the cut back to a user message; when the history
    holds no such boundary (one long tool-using turn) it moves forward instead.
    """
    if len(rows) <= keep_recent:
        return 0
    start = len(rows) - max(keep_recent, 0)
    for cut in range(start, 0, -1):
        if rows[cut]["role"] == "user":
            return cut
    for cut in range(start + 1, len(rows)):
        if rows[cut]["role"] == "user":
            return cut
    return 0


def _line(row: dict) -> str:
    text = (row.get("content") or "").strip()
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT] + " […]"
    if row["role"] == "tool":
        return f"Tool result: {text}"
    if row["role"] == "assistant":
        calls = json.loads(row["tool_calls"]) if row.get("tool_calls") else []
        called = "; ".join(f"called {c['function']['name']}({c['function']['arguments'][:300]})" for c in calls)
        return "Assistant: " + " ".join(p for p in (text, called) if p)
    return f"{row['role'].capitalize()}: {text}"


def summary_request(previous_summary: str | None, rows: list[dict]) -> list[dict]:
    transcript = "\n".join(_line(r) for r in rows)
    if previous_summary:
        transcript = f"Summary of what came before:\n{previous_summary}\n\nThen:\n{transcript}"
    return [{"role": "system", "content": SUMMARY_INSTRUCTIONS},
            {"role": "user", "content": f"Summarise this conversation:\n\n{transcript}"}]


"""The LLM boundary: the only module that imports litellm.

litellm costs 3-6 s and ~170 MB to import, so it is imported lazily in a worker thread
(`ensure_loaded`), never on a request path; the daemon warms it right after start-up.
Offline-safety variables are set before the import. Retries are ours (litellm's are off):
timeouts, 429, 5xx and broken streams back off exponentially and honour Retry-After.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import threading
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...sanitize import redact, scrub
from .providers import ModelTarget

_litellm: Any = None
_load_lock = threading.Lock()

LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def _load() -> Any:
    global _litellm
    with _load_lock:
        if _litellm is None:
            _import()
    return _litellm


def _import() -> None:
    global _litellm
    # Read during import: without them litellm fetches its cost map and tokenizers from the web.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    # litellm's response types use TypedDict ReadOnly items; pydantic warns once per type.
    warnings.filterwarnings("ignore", message=".*using the `ReadOnly` qualifier")
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    litellm.drop_params = True
    # LITELLM_LOG is read only by some of its loggers; the others inherit the daemon's INFO
    # level and wrote a "completion() model=…" line for every call. Its warnings still show.
    for name in LITELLM_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _litellm = litellm


def is_loaded() -> bool:
    return _litellm is not None


async def ensure_loaded() -> Any:
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(_load)


class ProviderError(Exception):
    """A failed model call. Its message is redacted here, where every one is built: a provider
    that echoes the Authorization header must not put the key into a result, log or chat."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, secrets: tuple[str | None, ...] = ()):
        message = redact(scrub(message), secrets)
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class Completion:
    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0  # set by Budgets.charge (price overrides first), the one place calls are priced
    priced: bool = True


def _classify(exc: Exception, secrets: tuple[str | None, ...] = ()) -> ProviderError:
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    retry_after = None
    headers = getattr(response, "headers", None)
    if headers is not None:
        try:
            retry_after = float(headers.get("retry-after")) if headers.get("retry-after") else None
        except (TypeError, ValueError):
            retry_after = None
    name = type(exc).__name__
    message = getattr(exc, "message", None) or str(exc) or name
    timeoutish = "Timeout" in name or isinstance(exc, (asyncio.TimeoutError, TimeoutError))
    connection = "APIConnectionError" in name or isinstance(exc, (ConnectionError, json.JSONDecodeError))
    retryable = timeoutish or connection or (status in RETRYABLE_STATUS) or (
        status is None and name in ("InternalServerError", "ServiceUnavailableError", "APIError",
                                    "MidStreamFallbackError", "BadGatewayError"))
    if name not in message:
        message = f"{name}: {message}"
    return ProviderError(message, status=status, retryable=retryable, retry_after=retry_after, secrets=secrets)


async def _stream_once(target: ModelTarget, messages: list[dict], tools: list[dict] | None,
                       on_text: Callable[[str], Any], timeout: float, max_tokens: int | None) -> Completion:
    litellm = await ensure_loaded()
    kwargs: dict[str, Any] = dict(target.call_kwargs(), messages=messages, stream=True,
                                  stream_options={"include_usage": True}, max_retries=0, timeout=timeout)
    if tools:
        kwargs["tools"] = tools
    if max_tokens:
        kwargs["max_tokens"] = max_tokens
    response = await litellm.acompletion(**kwargs)
    result = Completion()
    calls: dict[int, dict] = {}
    try:
        await _read_stream(response, result, calls, on_text)
    finally:
        await response.aclose()
    result.tool_calls = [
        {"id": c["id"] or f"call_{i}", "name": c["name"], "arguments": c["arguments"]}
        for i, c in sorted(calls.items()) if c["name"]
    ]
    return result


async def _read_stream(response: Any, result: Completion, calls: dict[int, dict],
                       on_text: Callable[[str], Any]) -> None:
    usage_seen = False
    async for chunk in response:
        usage = getattr(chunk, "usage", None)
        if usage:
            usage_seen = True
            result.input_tokens = getattr(usage, "prompt_tokens", 0) or result.input_tokens
            result.output_tokens = getattr(usage, "completion_tokens", 0) or result.output_tokens
        choice = chunk.choices[0] if chunk.choices else None
        delta = choice.delta if choice is not None else None
        if delta is not None:
            if delta.content:
                text = scrub(delta.content)  # a lone surrogate would fail every write and send
                result.text += text
                maybe = on_text(text)
                if maybe is not None and asyncio.iscoroutine(maybe):  # a chat stream's async sink
                    await maybe
            for call in getattr(delta, "tool_calls", None) or []:
                slot = calls.setdefault(call.index or 0, {"id": None, "name": "", "arguments": ""})
                if call.id:
                    slot["id"] = scrub(call.id)
                if call.function is not None:
                    if call.function.name:
                        slot["name"] = scrub(call.function.name)
                    if call.function.arguments:
                        slot["arguments"] += scrub(call.function.arguments)
        if choice is not None and choice.finish_reason:
            result.finish_reason = choice.finish_reason
        if result.finish_reason and usage_seen:
            # Finished, and its usage is in. Reading on would only run litellm's end-of-stream
            # logging (its callbacks, of which we have none): a few ms of loop time per call,
            # before the reply could be stored. The caller closes the stream.
            return


async def stream_completion(
    target: ModelTarget,
    messages: list[dict],
    *,
    tools: list[dict] | None = None,
    on_text: Callable[[str], Any] = lambda _t: None,
    on_retry: Callable[[int, ProviderError, float], Awaitable[None] | None] | None = None,
    attempts: int = 4,
    timeout: float = 120.0,
    base_delay: float = 0.5,
    max_tokens: int | None = None,
) -> Completion:
    """One model turn, streamed. Retries retryable provider errors, then raises ProviderError."""
    for attempt in range(1, attempts + 1):
        try:
            return await _stream_once(target, messages, tools, on_text, timeout, max_tokens)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # litellm raises many exception types; classify them all
            error = exc if isinstance(exc, ProviderError) else _classify(exc, (target.api_key,))
            if not error.retryable or attempt == attempts:
                raise error from None
            delay = error.retry_after if error.retry_after is not None else (
                base_delay * 2 ** (attempt - 1) * (0.8 + 0.4 * random.random()))
            delay = min(delay, 30.0)
            if on_retry is not None:
                maybe = on_retry(attempt, error, delay)
                if asyncio.iscoroutine(maybe):
                    await maybe
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def complete_text(target: ModelTarget, messages: list[dict], *, max_tokens: int | None = None,
                        timeout: float = 60.0) -> Completion:
    """A short non-tool call (assist, connection tests), with the same retry policy."""
    return await stream_completion(target, messages, timeout=timeout, attempts=2, max_tokens=max_tokens)


@functools.lru_cache(maxsize=256)  # the bundled model map never changes while we run
def max_input_tokens(model: str) -> int | None:
    """The model's input window from litellm's local model map, or None when unknown."""
    assert _litellm is not None, "litellm is not loaded"
    try:
        return _litellm.get_model_info(model).get("max_input_tokens") or None
    except Exception:  # litellm raises for models it does not know
        return None


def model_prices(model: str) -> tuple[float, float, int | None] | None:
    """(USD per input token, USD per output token, max output tokens) from litellm's bundled
    cost map, or None for a model it does not price. Needs litellm loaded (ensure_loaded)."""
    cost_map = _load().model_cost
    prefix, _, bare = model.partition("/")
    # "openai/gpt-4o-mini" is listed as "gpt-4o-mini" with litellm_provider "openai".
    for key, provider in ((model, None), (bare, prefix)):
        entry = cost_map.get(key) if key else None
        if not entry or (provider and entry.get("litellm_provider") != provider):
            continue
        prices = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if None not in prices:
            return float(prices[0]), float(prices[1]), entry.get("max_output_tokens")
    return None


def count_prompt_tokens(model: str, messages: list[dict], tools: list[dict] | None = None) -> int:
    """Tokens the prompt will cost, by litellm's tokenizer for the model (CPU-bound: call it in
    a thread). Falls back to ~4 characters a token when the tokenizer cannot read the messages."""
    try:
        return int(_load().token_counter(model=model, messages=messages, tools=tools or None))
    except Exception:  # a tokenizer that chokes on a message shape must not stop the run
        return len(json.dumps(messages, default=str)) // 4 + len(json.dumps(tools or [])) // 4


async def close_clients() -> None:
    """Close the HTTP clients litellm cached on this event loop (called at shutdown)."""
    if _litellm is None:
        return
    from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

    await close_litellm_async_clients()
    _litellm.in_memory_llm_clients_cache.flush_cache()

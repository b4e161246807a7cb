"""One model call outside a task run (profile smoke tests, profile assist): resolve the model,
check the spend caps, call through engine/agent/llm.py, charge and record a usage row.

Invariant: the budget reservation is released however the call ends; a call that would cross
a cap is refused before the provider sees it (BudgetExceeded, 429).
"""

from __future__ import annotations

from ...db import Database
from ...db.rows import new_id, now_iso
from ...store import tasks as task_store
from ..agent import llm
from ..agent.pricing import PRICING_VERSION
from ..agent.providers import ModelTarget, resolve_model
from ..governance.budgets import Budgets


async def target(db: Database, runtime_id: str | None, model_id: str | None = None) -> ModelTarget:
    """The model to call; Invalid (400) with how to configure one when there is none."""
    return await resolve_model(db, model_id=model_id, runtime_id=runtime_id or None)


async def call(db: Database, budgets: Budgets, model: ModelTarget, messages: list[dict], *,
               activity: str, max_tokens: int = 1500) -> str:
    """The reply's text; llm.ProviderError when the provider fails."""
    run_key = f"{activity}:{new_id()}"
    limit = await budgets.check_call(model, messages, max_tokens=max_tokens, run_key=run_key)
    started = now_iso()
    try:
        completion = await llm.complete_text(model, messages, max_tokens=limit)
        cost, priced = await budgets.charge(run_key, model, completion)
        await task_store.record_usage(db, {
            "activity_type": activity, "runtime_id": model.runtime_id, "provider_id": model.provider,
            "model_id": model.model, "status": "completed" if priced else "unknown_pricing",
            "input_tokens": completion.input_tokens, "output_tokens": completion.output_tokens,
            "cost_micros": cost, "pricing_version": PRICING_VERSION, "started_at": started,
            "finished_at": now_iso()})
    finally:
        await budgets.settle(run_key)
    return completion.text or ""

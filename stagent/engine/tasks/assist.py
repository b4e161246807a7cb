"""Task assist: an improved description, a breakdown and a recommended workflow pattern.

With a provider configured the model drafts it (asked for JSON); without one, or when the
model's answer is not usable JSON, a deterministic local draft is returned so the feature works.
"""

from __future__ import annotations

import json
import re

from ...db import Database
from ...db.rows import new_id, now_iso
from ...errors import Invalid
from ...sanitize import scrub_json
from ...store import tasks as task_store
from ..agent import llm
from ..agent.pricing import PRICING_VERSION
from ..agent.providers import resolve_model
from ..governance.budgets import Budgets

MAX_TOKENS = 1500
PATTERNS = ("single", "sequence", "planner-executor", "checkpoint", "parallel", "loop", "swarm")
PROMPT = (
    "Improve this task for an AI agent. Reply with JSON only, keys: improvedDescription (string), "
    "breakdown (array of short step strings), recommendedPattern (one of " + ", ".join(PATTERNS) + "), "
    "complexity (simple|moderate|complex), needsCheckpoint (boolean), reasoning (string)."
)


def local_draft(title: str, description: str) -> dict:
    text = (description or title).strip()
    steps = [s.strip(" -*\t") for s in re.split(r"(?:\n+|(?<=[.!?])\s+)", text) if s.strip(" -*\t")]
    if len(steps) < 2:
        steps = [f"Understand: {title or text}", "Do the work", "Check and summarise the result"]
    complexity = "simple" if len(steps) <= 2 else ("moderate" if len(steps) <= 5 else "complex")
    pattern = "single" if complexity == "simple" else "sequence"
    risky = re.search(r"\b(delete|deploy|publish|send|pay|drop|production)\b", text, re.I) is not None
    return {
        "improvedDescription": (f"{title.strip()}\n\n{description.strip()}" if title and description
                                else text),
        "breakdown": steps[:10],
        "recommendedPattern": "checkpoint" if risky else pattern,
        "complexity": complexity,
        "needsCheckpoint": risky,
        "reasoning": "Drafted locally from the text (no model was asked).",
    }


async def assist(db: Database, budgets: Budgets, title: str | None, description: str | None,
                 runtime_id: str | None) -> dict:
    """The draft; BudgetExceeded (429) when the model call would cross a spend cap."""
    title, description = title or "", description or ""
    draft = local_draft(title, description)
    try:
        target = await resolve_model(db, runtime_id=runtime_id if runtime_id else None)
    except Invalid:
        return draft
    messages = [{"role": "system", "content": PROMPT},
                {"role": "user", "content": f"Title: {title}\nDescription: {description}"}]
    run_key = f"assist:{new_id()}"
    max_tokens = await budgets.check_call(target, messages, max_tokens=MAX_TOKENS, run_key=run_key)
    started = now_iso()
    try:  # the reservation made by check_call is released however this ends (a cancel too)
        try:
            completion = await llm.complete_text(target, messages, max_tokens=max_tokens)
        except llm.ProviderError as exc:
            draft["reasoning"] = f"Drafted locally: the model call failed ({exc.message})."
            return draft
        cost, priced = await budgets.charge(run_key, target, completion)
        await task_store.record_usage(db, {
            "activity_type": "task_assist", "runtime_id": target.runtime_id, "provider_id": target.provider,
            "model_id": target.model, "status": "completed" if priced else "unknown_pricing",
            "input_tokens": completion.input_tokens, "output_tokens": completion.output_tokens,
            "cost_micros": cost, "pricing_version": PRICING_VERSION, "started_at": started,
            "finished_at": now_iso()})
    finally:
        await budgets.settle(run_key)
    match = re.search(r"\{.*\}", completion.text, re.S)
    try:
        answer = scrub_json(json.loads(match.group(0))) if match else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):  # the model was asked: the local draft must not say otherwise
        draft["reasoning"] = f"Drafted locally: the answer of {target.model} was not usable JSON."
        return draft
    result = {**draft, "reasoning": f"Drafted by {target.model}."}
    for key in ("improvedDescription", "reasoning"):
        if isinstance(answer.get(key), str):
            result[key] = answer[key]
    if isinstance(answer.get("breakdown"), list):
        result["breakdown"] = [str(s) for s in answer["breakdown"]][:20]
    if answer.get("recommendedPattern") in PATTERNS:
        result["recommendedPattern"] = answer["recommendedPattern"]
    if answer.get("complexity") in ("simple", "moderate", "complex"):
        result["complexity"] = answer["complexity"]
    if isinstance(answer.get("needsCheckpoint"), bool):
        result["needsCheckpoint"] = answer["needsCheckpoint"]
    return result

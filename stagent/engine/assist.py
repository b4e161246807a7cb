"""Task assist: an improved description, a breakdown and a recommended workflow pattern.

With a provider configured the model drafts it (asked for JSON); without one, or when the
model's answer is not usable JSON, a deterministic local draft is returned so the feature works.
"""

from __future__ import annotations

import json
import re

from ..db import Database
from ..errors import Invalid
from . import llm
from .providers import resolve_model

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


async def assist(db: Database, title: str | None, description: str | None, runtime_id: str | None) -> dict:
    title, description = title or "", description or ""
    draft = local_draft(title, description)
    try:
        target = await resolve_model(db, runtime_id=runtime_id if runtime_id else None)
    except Invalid:
        return draft
    try:
        completion = await llm.complete_text(target, [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": f"Title: {title}\nDescription: {description}"},
        ])
    except llm.ProviderError as exc:
        draft["reasoning"] = f"Drafted locally: the model call failed ({exc.message})."
        return draft
    match = re.search(r"\{.*\}", completion.text, re.S)
    try:
        answer = json.loads(match.group(0)) if match else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return draft
    result = dict(draft)
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

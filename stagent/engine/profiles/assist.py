"""Profile assist: the model drafts (or refines) a profile: a ProfileConfig + SKILL.md.

Invariant: what is returned always validates as a ProfileConfig. When the model's answer is not
JSON or does not validate, it is told why and asked once more (one repair round); a second bad
answer is an error (500), never a half-valid profile.
"""

from __future__ import annotations

import json
import re

from ...db import Database
from ...errors import ApiError
from ...sanitize import scrub_json
from ..agent import llm
from ..governance.budgets import Budgets
from . import oneshot
from .schema import validate_config

MODES = ("generate", "refine", "refine-skillmd", "suggest-tests")
KEYS = ("name, description, domain (work|personal), tags (array of lowercase keywords), skillMd "
        "(markdown instructions for the agent, no front matter), allowedTools (array of tool names "
        "such as Read, Grep, Glob, Write, Edit, Bash, WebSearch, WebFetch), canUseToolPolicy "
        "({autoApprove: [], autoDeny: []}), maxTurns (integer), outputFormat (string), "
        "supportedRuntimes (array), tests (array of {task, expectedKeywords: [strings]}), reasoning")


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return slug or "profile"


def _prompt(mode: str) -> str:
    what = {"generate": "Design an agent profile for the user's goal.",
            "refine": "Improve the existing profile for the user's goal.",
            "refine-skillmd": "Rewrite and improve the existing SKILL.md instructions for the goal.",
            "suggest-tests": "Suggest 2-4 smoke tests for the profile (short tasks and keywords a "
                             "good answer must contain)."}[mode]
    return f"{what} Reply with one JSON object only, keys: {KEYS}."


def _parse(text: str, domain: str | None) -> tuple[dict | None, str | None]:
    """(draft, None) or (None, what is wrong with the answer)."""
    match = re.search(r"\{.*\}", text or "", re.S)
    try:
        answer = scrub_json(json.loads(match.group(0))) if match else None
    except ValueError as exc:
        return None, f"the answer is not valid JSON ({exc})"
    if not isinstance(answer, dict):
        return None, "the answer is not a JSON object"
    name = answer.get("name") if isinstance(answer.get("name"), str) else ""
    skill = answer.get("skillMd") if isinstance(answer.get("skillMd"), str) else ""
    if not name.strip() or not skill.strip():
        return None, "name and skillMd must be non-empty strings"
    config = {k: v for k, v in answer.items() if k not in ("skillMd", "reasoning", "description")}
    config.update(id=_slug(name), version="1.0.0", domain=answer.get("domain") or domain or "work",
                  tags=answer.get("tags") if isinstance(answer.get("tags"), list) else [])
    try:
        valid = validate_config(config)
    except ValueError as exc:
        return None, f"the profile does not validate: {exc}"
    valid.pop("importMeta", None)
    return {**valid, "description": str(answer.get("description") or ""), "skillMd": skill,
            "reasoning": str(answer.get("reasoning") or "")}, None


async def assist(db: Database, budgets: Budgets, *, goal: str, domain: str | None, mode: str,
                 existing_skill_md: str | None, existing_tags: list[str] | None,
                 runtime_id: str | None = None) -> dict:
    model = await oneshot.target(db, runtime_id)
    user = f"Goal: {goal}"
    if domain:
        user += f"\nDomain: {domain}"
    if existing_skill_md:
        user += f"\nExisting SKILL.md:\n{existing_skill_md}"
    if existing_tags:
        user += f"\nExisting tags: {', '.join(existing_tags)}"
    messages = [{"role": "system", "content": _prompt(mode)}, {"role": "user", "content": user}]
    problem = None
    for _ in range(2):  # the answer, then one repair round
        try:
            text = await oneshot.call(db, budgets, model, messages, activity="profile_assist", max_tokens=3000)
        except llm.ProviderError as exc:
            raise ApiError(f"Profile assist failed: {exc.message}") from None
        draft, problem = _parse(text, domain)
        if draft is not None:
            return draft
        messages += [{"role": "assistant", "content": text},
                     {"role": "user", "content": f"That answer cannot be used: {problem}. "
                                                 "Reply again with one corrected JSON object only."}]
    raise ApiError(f"Profile assist failed: {problem}")

"""Which profile a task gets when it names none (or `auto`): the original's `classifyTaskProfile`.

Invariant: pure. Count each profile's tags that occur (case-insensitive substrings) in the task's
title + description, among profiles supporting the runtime; the best wins only with at least
MIN_HITS hits, else `general`. Ties go to the profile listed first (sorted by name).
"""

from __future__ import annotations

FALLBACK = "general"
MIN_HITS = 2


def classify(title: str, description: str | None, profiles: list[dict],
             runtime_id: str | None = None) -> tuple[str, str]:
    """(profile id, why) for the log line that records the choice."""
    text = f"{title or ''} {description or ''}".lower()
    best, best_hits, best_tags = None, 0, []
    for profile in profiles:
        supported = profile.get("supportedRuntimes")
        if runtime_id and supported and runtime_id not in supported:
            continue
        hits = [tag for tag in profile.get("tags") or [] if tag and tag.lower() in text]
        if len(hits) > best_hits:
            best, best_hits, best_tags = profile["id"], len(hits), hits
    if best is not None and best_hits >= MIN_HITS:
        return best, f"{best_hits} tag matches ({', '.join(best_tags)})"
    if best is not None and best_hits:
        return FALLBACK, (f"best candidate {best} had only {best_hits} tag match "
                          f"({', '.join(best_tags)}); at least {MIN_HITS} needed")
    return FALLBACK, "no profile's tags occur in the task text"

"""The runtime router behind POST /api/runtimes/suggest: keyword signals plus a preference score."""

from __future__ import annotations

import re

from .providers import DEFAULT_RUNTIME, RUNTIME_IDS, RUNTIMES

# Keyword stems match at the start of a word ("test" matches "tests", not "latest"); each stem
# counts once, ×3, plus the runtime's score for the routing preference (the original's weights).

KEYWORDS: dict[str, tuple[str, ...]] = {
    "claude-code": ("edit", "file", "refactor", "debug", "commit", "deploy", "build", "compil", "test",
                    "lint"),
    "anthropic-direct": ("research", "search", "investigat", "explain", "summar", "translat", "writ",
                         "draft", "report", "document", "outline", "review"),
    "openai-direct": ("analy", "comput", "chart", "data", "calculat", "statistic", "visual", "image",
                      "design", "diagram"),
    "openai-codex-app-server": ("sandbox", "isolat"),
    "ollama": ("local", "private", "offline", "free"),
}
PREFERENCE_SCORES: dict[str, dict[str, int]] = {
    "latency": {"anthropic-direct": 3, "openai-direct": 3, "claude-code": 1, "openai-codex-app-server": 1,
                "ollama": 2},
    "cost": {"anthropic-direct": 3, "openai-direct": 3, "claude-code": 1, "openai-codex-app-server": 1,
             "ollama": 5},
    "quality": {"claude-code": 3, "openai-codex-app-server": 2, "anthropic-direct": 2, "openai-direct": 2,
                "ollama": 1},
}
_STEMS = {rid: re.compile(r"\b(" + "|".join(stems) + r")\w*") for rid, stems in KEYWORDS.items()}
NOT_CONFIGURED = ("not configured yet: add a key with POST /api/settings or /api/settings/openai, "
                  "or an Ollama base URL with POST /api/settings/ollama")


def _keyword_hits(runtime_id: str, text: str) -> list[str]:
    """The words of `text` that matched, one per stem."""
    seen: dict[str, str] = {}
    for match in _STEMS[runtime_id].finditer(text):
        seen.setdefault(match.group(1), match.group(0))
    return list(seen.values())


def suggest_runtime(title: str, description: str | None, configured: list[str],
                    preference: str = "latency") -> dict:
    """{runtimeId, reason, alternatives[]} among the configured runtimes (all of them if none is)."""
    text = f"{title} {description or ''}".lower()
    candidates = [r for r in RUNTIME_IDS if r in configured] or list(RUNTIME_IDS)
    hits = {r: _keyword_hits(r, text) for r in candidates}
    if preference == "manual":
        first = DEFAULT_RUNTIME if DEFAULT_RUNTIME in candidates else candidates[0]
        order = [first, *(r for r in candidates if r != first)]
        reason = "Manual routing — using the default runtime"
        alternatives = [{"runtimeId": r, "reason": "Available; manual routing picks the default"}
                        for r in order[1:]]
    else:
        table = PREFERENCE_SCORES.get(preference, PREFERENCE_SCORES["latency"])
        score = {r: len(hits[r]) * 3 + table[r] for r in candidates}
        order = sorted(candidates, key=lambda r: -score[r])  # stable: catalogue order breaks ties
        reason = _reason(hits[order[0]], preference)
        alternatives = [{"runtimeId": r, "reason": _reason(hits[r], preference)} for r in order[1:]]
    if not configured:
        reason += f" ({RUNTIMES[order[0]].label} is {NOT_CONFIGURED})"
        for alt in alternatives:
            alt["reason"] += " (not configured)"
    return {"runtimeId": order[0], "reason": reason, "alternatives": alternatives}


def _reason(words: list[str], preference: str) -> str:
    if words:
        noun = "signal" if len(words) == 1 else "signals"
        return (f"Best match for task content ({len(words)} keyword {noun}: {', '.join(words)}), "
                f"optimizing for {preference}")
    return f"No keyword signals; optimizing for {preference}"

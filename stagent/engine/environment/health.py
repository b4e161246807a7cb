"""The scan's health score, as the original computes it (stagent-behaviour §7.4): four
dimensions of 0-100 (instructions, safety, capability, maintenance), overall their rounded
mean, and as recommendations the "Missing…/No…" findings of every dimension below 50.

Pure: it takes the scan's artifacts (category, name) and facts about the scan, no I/O.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def _dimension(parts: list[tuple[bool, int, str]], fallback: int = 0) -> dict:
    score, details = 0, []
    for held, points, missing in parts:
        if held:
            score += points
        elif missing:
            details.append(missing)
    return {"score": min(100, score + fallback), "details": details}


def score(artifacts: list[dict], *, status: str, errors: int, scanned_at: str, now: datetime | None = None) -> dict:
    counts: dict[str, int] = {}
    for artifact in artifacts:
        counts[artifact["category"]] = counts.get(artifact["category"], 0) + 1
    instructions = [a["name"] for a in artifacts if a["category"] == "instruction"]
    has = lambda name: any(n.upper() == name for n in instructions)  # noqa: E731

    instr = _dimension([
        (has("CLAUDE.MD"), 30, "Missing CLAUDE.md (Claude Code instructions)"),
        (has("AGENTS.MD"), 30, "Missing AGENTS.md (Codex instructions)"),
        (counts.get("memory", 0) > 0, 25, "No memory files"),
        (len(instructions) >= 2, 15, ""),
    ], fallback=0 if len(instructions) >= 2 else 5)
    safety = _dimension([
        (counts.get("permission", 0) > 0, 40, "No permission configuration (allow/deny rules)"),
        (counts.get("hook", 0) > 0, 35, "No hooks configured"),
        (len(artifacts) > 0, 25, "No artifacts found"),
    ])
    skills, mcp = counts.get("skill", 0), counts.get("mcp-server", 0)
    capability = _dimension([
        (skills > 0, 40 if skills >= 15 else 25 if skills >= 5 else 10, "No skills installed"),
        (mcp > 0, 30 if mcp >= 2 else 15, "No MCP servers configured"),
        (counts.get("plugin", 0) > 0, 15, "No plugins installed"),
        (counts.get("output-style", 0) > 0, 8, "No output styles"),
        (counts.get("rule", 0) > 0, 7, "No rules"),
    ])
    age_hours = _age_hours(scanned_at, now)
    total = len(artifacts)
    maintenance = _dimension([
        (age_hours < 168, 30 if age_hours < 1 else 20 if age_hours < 24 else 10, "No recent scan (older than 7 days)"),
        (True, 30 if total >= 30 else 20 if total >= 10 else 5, ""),
        (status == "completed", 20, "No completed scan"),
        (errors == 0, 20, "Scan reported errors"),
    ], fallback=0 if errors == 0 else 5)
    dimensions = {"instructions": instr, "safety": safety, "capability": capability, "maintenance": maintenance}
    overall = math.floor(sum(d["score"] for d in dimensions.values()) / len(dimensions) + 0.5)  # JS Math.round
    recommendations = [detail for d in dimensions.values() if d["score"] < 50 for detail in d["details"]]
    return {"overall": overall, "dimensions": dimensions, "recommendations": recommendations}


def _age_hours(scanned_at: str, now: datetime | None) -> float:
    try:
        then = datetime.fromisoformat(scanned_at.replace("Z", "+00:00"))
    except ValueError:
        return 1e9
    return max(0.0, ((now or datetime.now(UTC)) - then).total_seconds() / 3600)

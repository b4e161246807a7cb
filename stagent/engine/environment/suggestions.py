"""Agent-profile suggestions from a scan's artifacts, in two tiers, and turning one into a
real profile through the profiles registry.

- curated: rules below; a rule fires when one of its `any_of` matchers matches an artifact
  (category + case-insensitive name substring); each optional matcher that also matches adds
  0.1 to its base confidence (at most 1.0).
- discovered: every skill no curated suggestion used becomes a suggestion of its own at 0.5,
  named from its SKILL.md front matter, unless its profile was already created.

A suggestion becomes the user profile `env-<ruleId>` (origin `environment`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..profiles.registry import ProfileRegistry

DISCOVERED_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    description: str
    any_of: tuple[tuple[str, str], ...]
    optional: tuple[tuple[str, str], ...]
    tools: tuple[str, ...]
    prompt: str
    confidence: float
    tags: tuple[str, ...]


RULES = (
    Rule("security-reviewer", "Security Reviewer",
         "Reviews code for vulnerabilities: injection, authentication, secrets and unsafe dependencies",
         (("skill", "security"), ("skill", "code-review")), (("skill", "threat"), ("skill", "audit"),
                                                               ("permission", "settings"), ("hook", "pretooluse")),
         ("Read", "Grep", "Glob", "Bash"),
         "You review code for security problems. Look for injection, broken authentication, leaked secrets and "
         "risky dependencies; report each finding with its severity, location and a concrete fix.",
         0.7, ("security", "code-review", "audit")),
    Rule("qa-tester", "QA Tester",
         "Writes and runs tests, checks coverage and verifies features in a browser",
         (("skill", "test"), ("skill", "qa"), ("mcp-server", "playwright")),
         (("mcp-server", "playwright"), ("skill", "coverage"), ("skill", "e2e")),
         ("Read", "Write", "Bash", "Glob", "Grep"),
         "You are a QA engineer. Write tests with the project's framework, run them, measure coverage and "
         "verify acceptance criteria; report what fails and why.",
         0.7, ("testing", "qa", "automation")),
    Rule("researcher", "Researcher",
         "Gathers sources on the web and in documentation and writes cited analyses",
         (("skill", "research"), ("mcp-server", "search"), ("mcp-server", "fetch")),
         (("mcp-server", "fetch"), ("skill", "capture"), ("skill", "cite")),
         ("Read", "WebSearch", "WebFetch", "Grep"),
         "You research questions thoroughly: gather sources, compare them, and answer with citations for every claim.",
         0.65, ("research", "web", "citations")),
    Rule("document-specialist", "Document Specialist",
         "Extracts, converts and writes PDF, Word, spreadsheet and slide documents",
         (("skill", "pdf"), ("skill", "docx"), ("skill", "xlsx")),
         (("skill", "docx"), ("skill", "xlsx"), ("skill", "pptx")),
         ("Read", "Write", "Bash"),
         "You process documents: extract text and tables, convert between formats and produce clean, "
         "well-structured files.",
         0.65, ("documents", "pdf", "office")),
    Rule("frontend-architect", "Frontend Architect",
         "Builds and reviews UI components that follow the project's design system",
         (("skill", "frontend"), ("skill", "design"), ("mcp-server", "figma")),
         (("mcp-server", "figma"), ("skill", "component"), ("output-style", "")),
         ("Read", "Write", "Edit", "Glob", "Grep"),
         "You design and build frontend components that follow the project's design system, and review UI code "
         "for consistency, accessibility and clarity.",
         0.65, ("frontend", "design", "components")),
    Rule("devops-engineer", "DevOps Engineer",
         "Maintains CI/CD pipelines, containers and deployment automation",
         (("skill", "devops"), ("skill", "deploy"), ("mcp-server", "docker"), ("mcp-server", "kubernetes")),
         (("mcp-server", "github"), ("hook", ""), ("skill", "ci")),
         ("Bash", "Read", "Write", "Grep"),
         "You are a DevOps engineer: analyse CI/CD pipelines, infrastructure and deployment configuration, "
         "automate what is manual and keep changes reversible.",
         0.65, ("devops", "ci-cd", "infrastructure")),
    Rule("repository-maintainer", "Repository Maintainer",
         "Triages issues, reviews pull requests and prepares releases",
         (("mcp-server", "github"), ("mcp-server", "gitlab")),
         (("skill", "review"), ("skill", "release"), ("instruction", "agents.md")),
         ("Read", "Grep", "Glob", "Bash"),
         "You maintain a repository: triage issues, review pull requests carefully and prepare release notes.",
         0.65, ("github", "maintenance", "review")),
)


def _match(artifacts: list[dict], matcher: tuple[str, str]) -> dict | None:
    category, needle = matcher
    return next((a for a in artifacts if a["category"] == category and needle in a["name"].lower()), None)


def _ref(artifact: dict) -> dict:
    return {"id": artifact["id"], "name": artifact["name"], "category": artifact["category"]}


def curated(artifacts: list[dict]) -> list[dict]:
    out = []
    for rule in RULES:
        hit = next((a for m in rule.any_of if (a := _match(artifacts, m))), None)
        if hit is None:
            continue
        matched = [_ref(hit)]
        for matcher in rule.optional:
            extra = _match(artifacts, matcher)
            if extra is not None and extra["id"] not in {m["id"] for m in matched}:
                matched.append(_ref(extra))
        confidence = round(min(1.0, rule.confidence + 0.1 * (len(matched) - 1)), 2)
        out.append({"ruleId": rule.id, "name": rule.name, "description": rule.description, "confidence": confidence,
                    "tier": "curated", "matchedArtifacts": matched, "suggestedTools": list(rule.tools),
                    "systemPrompt": rule.prompt, "tags": list(rule.tags)})
    return sorted(out, key=lambda s: -s["confidence"])


def discovered(artifacts: list[dict], used: set[str], existing_profiles: set[str]) -> list[dict]:
    out, seen = [], set()
    for artifact in artifacts:
        if artifact["category"] != "skill" or artifact["id"] in used:
            continue
        rule_id = "discovered-" + artifact["name"]
        if profile_id(rule_id) in existing_profiles or rule_id in seen:
            continue
        seen.add(rule_id)
        meta = json.loads(artifact.get("metadata") or "{}")
        name = meta.get("name") or artifact["name"].replace("-", " ").replace("_", " ").title()
        description = meta.get("description") or f"Discovered skill: {artifact['name']}"
        out.append({"ruleId": rule_id, "name": name, "description": description,
                    "confidence": DISCOVERED_CONFIDENCE, "tier": "discovered", "matchedArtifacts": [_ref(artifact)],
                    "suggestedTools": ["Read", "Grep", "Glob", "Bash"],
                    "systemPrompt": meta.get("description") or f"You are a {name} specialist.",
                    "tags": [t for t in re.split(r"[-_\s]+", artifact["name"].lower()) if len(t) > 2]})
    return sorted(out, key=lambda s: s["name"].lower())


def suggest(artifacts: list[dict], existing_profiles: set[str]) -> tuple[list[dict], list[dict]]:
    first = curated(artifacts)
    used = {m["id"] for s in first for m in s["matchedArtifacts"]}
    return first, discovered(artifacts, used, existing_profiles)


def profile_id(rule_id: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", rule_id.lower()).strip("-.") or "suggestion"
    return f"env-{slug}"[:100]


async def create_profile(registry: ProfileRegistry, suggestion: dict, overrides: dict) -> str:
    """The suggestion (with overrides of name, description, systemPrompt) as a user profile."""
    name = (overrides.get("name") or suggestion["name"]).strip()
    description = (overrides.get("description") or suggestion.get("description") or name).strip()
    prompt = (overrides.get("systemPrompt") or suggestion.get("systemPrompt") or f"You are a {name}.").strip()
    config = {"id": profile_id(suggestion["ruleId"]), "name": name[:200], "version": "1.0.0", "domain": "work",
              "tags": [t for t in suggestion.get("tags") or [] if isinstance(t, str)][:20],
              "allowedTools": [t for t in suggestion.get("suggestedTools") or [] if isinstance(t, str)] or None}
    config = {k: v for k, v in config.items() if v is not None}
    skill_md = (f"---\nname: {json.dumps(name)}\ndescription: {json.dumps(description.replace(chr(10), ' '))}\n---\n\n"
                f"# {name}\n\n{prompt}\n")
    profile = await registry.create(config, skill_md, origin="environment")
    return profile["id"]

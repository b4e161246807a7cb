"""The ProfileConfig schema (the original's Zod `profileConfigSchema`) and SKILL.md front matter.

Invariant: every profile the registry hands out passed `validate_config`; an invalid one on
disk is skipped with a warning, never served half-parsed.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"


class ToolPolicy(BaseModel):
    model_config = ConfigDict(extra="allow")
    autoApprove: list[str] | None = None
    autoDeny: list[str] | None = None


class SmokeTest(BaseModel):
    model_config = ConfigDict(extra="allow")
    task: str = Field(min_length=1, max_length=4000)
    expectedKeywords: list[str] = Field(default_factory=list, max_length=50)


class ProfileConfig(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)  # JSON and YAML give real types
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    domain: Literal["work", "personal"]
    tags: list[str] = Field(max_length=100)
    allowedTools: list[str] | None = None
    mcpServers: dict[str, Any] | None = None
    canUseToolPolicy: ToolPolicy | None = None
    hooks: dict[str, Any] | None = None
    maxTurns: int | None = Field(default=None, gt=0, le=1000)
    outputFormat: str | None = Field(default=None, max_length=2000)
    author: str | None = None
    source: str | None = Field(default=None, pattern=r"^https?://\S+$")
    tests: list[SmokeTest] | None = None
    importMeta: dict[str, Any] | None = None
    supportedRuntimes: list[str] | None = None
    preferredRuntime: str | None = None
    runtimeOverrides: dict[str, dict[str, Any]] | None = None
    capabilityOverrides: dict[str, dict[str, Any]] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return [t.strip().lower() for t in tags if isinstance(t, str) and t.strip()]


def error_text(exc: ValidationError) -> str:
    """Zod-style: the messages joined by ', ' (the catalog's POST/PUT 400 body)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return ", ".join(parts)


def validate_config(data: dict) -> dict:
    """The config as a plain dict (unset optionals left out); ValueError with the joined messages."""
    try:
        model = ProfileConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(error_text(exc)) from None
    return model.model_dump(exclude_none=True)


FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def split_skill(text: str) -> tuple[dict, str]:
    """(front matter, body) of a SKILL.md; no or broken front matter gives ({}, text)."""
    match = FRONT_MATTER.match(text or "")
    if not match:
        return {}, text or ""
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def skill_body(text: str) -> str:
    """A SKILL.md without its front matter (no YAML parsed: every run's prompt needs this)."""
    match = FRONT_MATTER.match(text or "")
    return (text or "")[match.end():] if match else (text or "")


def description_of(skill_md: str) -> str:
    meta, body = split_skill(skill_md)
    if isinstance(meta.get("description"), str):
        return meta["description"].strip()
    for line in body.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.strip()[:300]
    return ""

"""Spend caps, checked before every provider call (the governance issue fills this in)."""

from __future__ import annotations

from ..db import Database
from ..errors import RateLimited
from .providers import ModelTarget


class BudgetExceeded(RateLimited):
    """429: a cap is exhausted, or this call's predicted cost would cross one."""

    code = "BUDGET_EXCEEDED"


class Budgets:
    def __init__(self, db: Database):
        self.db = db

    async def check_call(self, target: ModelTarget, messages: list[dict], *, max_tokens: int | None = None,
                         project_id: str | None = None, tools: list[dict] | None = None) -> None:
        """Raise BudgetExceeded if this call's predicted cost would cross a cap."""

    async def check_open(self, *, runtime_id: str | None = None, project_id: str | None = None) -> None:
        """Raise BudgetExceeded while a cap that covers this runtime/project is exhausted
        (task execute/resume/assist answer 429)."""

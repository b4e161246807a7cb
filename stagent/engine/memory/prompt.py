"""What a profile has learned, as text for the system prompt of its next run: the approved
learned context, then its most confident memories (engine/memory/memory.py picks them and
moves their accessCount). A task without a profile counts as the `general` profile."""

from __future__ import annotations

from ...db import Database
from ..learning.context import prompt_block as context_block
from .memory import prompt_block as memory_block

DEFAULT_PROFILE = "general"


def profile_of(task: dict) -> str:
    return task.get("agentProfile") or DEFAULT_PROFILE


async def knowledge(db: Database, task: dict) -> str:
    """"\n\n<learned context>\n\n<memory>", or "" when the profile has learned nothing."""
    profile = profile_of(task)
    task_text = f"{task.get('title') or ''} {task.get('description') or ''}"
    blocks = [b for b in (await context_block(db, profile), await memory_block(db, profile, task_text)) if b]
    return "".join(f"\n\n{b}" for b in blocks)

"""SQL of workspace discovery: which folders are already projects."""

from __future__ import annotations

from ..db import Database


async def project_folders(db: Database) -> dict[str, str]:
    """working directory → project name, for every project that has one."""
    rows = await db.fetchall("SELECT working_directory, name FROM projects WHERE working_directory IS NOT NULL")
    return {r["working_directory"]: r["name"] for r in rows}

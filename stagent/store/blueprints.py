"""Blueprint lineage: which workflows came from which blueprint and version (SQL only).

The blueprints themselves are YAML files (engine/blueprints.py); a workflow made from one keeps
`_blueprintId` and `_blueprintVersion` in its definition, and these queries read them back.
"""

from __future__ import annotations

from ..db import Database
from ..db.rows import row_to_dict

# json_extract raises on text that is not JSON: read it only from valid definitions.
_BLUEPRINT_ID = "CASE WHEN json_valid(definition) THEN json_extract(definition, '$._blueprintId') END"
_BLUEPRINT_VERSION = "CASE WHEN json_valid(definition) THEN json_extract(definition, '$._blueprintVersion') END"


async def instance_counts(db: Database) -> dict[str, int]:
    rows = await db.fetchall(
        f"SELECT {_BLUEPRINT_ID} AS blueprint_id, COUNT(*) FROM workflows "
        f"WHERE {_BLUEPRINT_ID} IS NOT NULL GROUP BY 1")
    return {r[0]: r[1] for r in rows}


async def instances(db: Database, blueprint_id: str) -> list[dict]:
    """The workflows made from a blueprint, newest first, with the version each was made from."""
    rows = await db.fetchall(
        f"SELECT id, name, status, {_BLUEPRINT_VERSION} AS blueprint_version, created_at, run_number "
        f"FROM workflows WHERE {_BLUEPRINT_ID} = ? ORDER BY created_at DESC, rowid DESC", (blueprint_id,))
    return [row_to_dict(r) for r in rows]

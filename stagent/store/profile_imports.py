"""Profile import's one write of its own to the `profiles` table (decision 021): stamping
`importMeta.lastCheckedAt` after an update check, in place, so a profile edited meanwhile keeps
its edit (no read-modify-write of the whole config) and its `updated_at` (a check is not an edit)."""

from __future__ import annotations

from ..db import Database


async def stamp_checked(db: Database, profile_ids: list[str], when: str) -> None:
    def write(conn) -> None:
        for profile_id in profile_ids:
            conn.execute("UPDATE profiles SET config = json_set(config, '$.importMeta.lastCheckedAt', ?) "
                         "WHERE id = ? AND json_type(config, '$.importMeta') = 'object'", (when, profile_id))

    await db.write(write)

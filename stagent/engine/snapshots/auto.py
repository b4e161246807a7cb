"""Auto-backup and retention, ticked by the scheduler's loop on the scheduler's clock (so a
test that moves that clock moves the backups too).

Due when enabled and `interval` has passed since the newest auto snapshot (or there is none).
Retention then applies to auto snapshots only — manual and pre-restore ones are the user's to
delete: those older than `maxAgeWeeks` go, then the oldest beyond `maxCount` (0 = no limit).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta

from ...errors import ApiError, Conflict, Invalid
from ...store import settings as settings_store
from .engine import Snapshots

log = logging.getLogger("stagent.snapshots")
KEYS = {"enabled": "snapshot.autoBackup.enabled", "interval": "snapshot.autoBackup.interval",
        "maxCount": "snapshot.retention.maxCount", "maxAgeWeeks": "snapshot.retention.maxAgeWeeks"}
_INTERVAL = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MIN_INTERVAL = timedelta(minutes=5)
CHECK_EVERY = timedelta(minutes=1)


def parse_interval(text: str) -> timedelta:
    match = _INTERVAL.match(text or "")
    if not match:
        raise ValueError("interval must look like 30m, 6h, 1d or 1w")
    delta = timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    if delta < MIN_INTERVAL:
        raise ValueError("interval must be at least 5 minutes")
    return delta


async def get_settings(snapshots: Snapshots) -> dict:
    values = await settings_store.resolve_many(snapshots.db, list(KEYS.values()))
    return {name: values[key][0] for name, key in KEYS.items()}


def validate(changes: dict) -> dict[str, str]:
    """The stored strings for a partial update; Invalid (Zod-flatten shape) for a bad field."""
    out, errors = {}, {}
    for name, value in changes.items():
        if name not in KEYS or value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value).strip()
        try:
            if name == "enabled" and text not in ("true", "false"):
                raise ValueError("enabled must be true or false")
            if name == "interval":
                parse_interval(text)
            if name in ("maxCount", "maxAgeWeeks") and (not text.isdigit() or int(text) > 100000):
                raise ValueError(f"{name} must be a whole number ≥ 0 (0 = no limit)")
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        out[KEYS[name]] = str(int(text)) if name in ("maxCount", "maxAgeWeeks") else text
    if errors:
        raise Invalid("Invalid snapshot settings", field_errors=errors, form_errors=[])
    return out


class AutoBackup:
    """A scheduler ticker: `tick(now)` each pass, `next_at()` for its sleep."""

    def __init__(self, snapshots: Snapshots):
        self.snapshots = snapshots
        self._next: datetime | None = None
        self._checked_at: datetime | None = None

    def next_at(self) -> datetime | None:
        return self._next

    async def tick(self, now: datetime) -> None:
        # The scheduler passes on every firing: between checks (a minute on its clock, or a
        # settings change, or a backup falling due) a pass costs nothing here.
        if (self._checked_at is not None and not self.snapshots.auto_settings_changed
                and now < self._checked_at + CHECK_EVERY and (self._next is None or now < self._next)):
            return
        self.snapshots.auto_settings_changed = False
        self._checked_at = now
        config = await get_settings(self.snapshots)
        records = await asyncio.to_thread(self.snapshots.catalog.all)
        await self._prune(records, config, now)
        if config["enabled"] != "true":
            self._next = None
            return
        try:
            interval = parse_interval(config["interval"])
        except ValueError:
            interval = timedelta(days=1)
        autos = [r for r in records if r.get("type") == "auto" and r.get("status") != "failed"]
        last = max((_parse(r["createdAt"]) for r in autos), default=None)
        due = now if last is None else last + interval
        if due > now:
            self._next = due
            return
        self._next = now + interval
        if not self.snapshots.busy and not self.snapshots.supervisor.running("auto-backup"):
            self.snapshots.supervisor.start("auto-backup", self._backup(config))

    async def _backup(self, config: dict) -> None:
        try:
            await self.snapshots.create("Auto backup", kind="auto")
        except Conflict:
            return  # another operation holds the lock: the next pass tries again
        except ApiError:
            log.warning("auto backup failed; it stays listed as failed and the next interval tries again")
        records = await asyncio.to_thread(self.snapshots.catalog.all)
        await self._prune(records, config, self.snapshots.now())

    async def _prune(self, records: list[dict], config: dict, now: datetime) -> None:
        doomed = retention_victims(records, int(config["maxCount"] or 0), int(config["maxAgeWeeks"] or 0), now)
        for record in doomed:
            if self.snapshots.busy:
                return
            await asyncio.to_thread(self.snapshots.catalog.delete, record["id"])


def retention_victims(records: list[dict], max_count: int, max_age_weeks: int, now: datetime) -> list[dict]:
    autos = sorted((r for r in records if r.get("type") == "auto" and r.get("status") != "in_progress"),
                   key=lambda r: r.get("createdAt") or "", reverse=True)
    doomed = []
    if max_age_weeks > 0:
        cutoff = now - timedelta(weeks=max_age_weeks)
        doomed = [r for r in autos if _parse(r["createdAt"]) < cutoff]
    kept = [r for r in autos if r not in doomed]
    if max_count > 0:
        doomed += kept[max_count:]
    return doomed


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))

"""Pure rules of firing a schedule: next slot, active hours, heartbeat prompt and verdict.

No I/O here, so the scheduler's decisions are testable with plain datetimes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ...db.rows import to_iso
from ...errors import Invalid
from ...sanitize import scrub_json
from .parse import describe, local_zone_name, next_fire_times

# A slot fired more than this late counts as missed (the daemon was down or the machine slept),
# and the schedule's missed policy decides: `skip` (default) or `run_once`.
MISSED_AFTER = timedelta(seconds=60)
HEARTBEAT_JSON_INSTRUCTIONS = (
    "Answer ONLY with a JSON object: {\"action_needed\": true|false, \"items\": [{\"id\": \"<item id>\", "
    "\"status\": \"action_needed\"|\"ok\"|\"skipped\", \"summary\": \"<one sentence>\"}]}"
)


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def zone_of(schedule: dict) -> str:
    return schedule.get("timeZone") or local_zone_name()


WINDOW_SEARCH_DAYS = 8  # a cron that misses the active hours for a week never meets them


def next_slot(schedule: dict, after: datetime) -> str | None:
    """The first slot strictly after `after`, honouring a heartbeat's active hours; None when
    the cron never fires inside them."""
    cron, tz = schedule["cronExpression"], zone_of(schedule)
    if schedule.get("type") != "heartbeat" or not has_window(schedule):
        return to_iso(next_fire_times(cron, tz, 1, after=after)[0])
    limit = after + timedelta(days=WINDOW_SEARCH_DAYS)
    while after < limit:
        slot = next_fire_times(cron, tz, 1, after=after)[0]
        if in_active_hours(schedule, slot):
            return to_iso(slot)
        # Jump to just before the window next opens, instead of walking every slot outside it.
        after = max(slot, window_opens(schedule, slot) - timedelta(microseconds=1))
    return None


def window_opens(schedule: dict, moment: datetime) -> datetime:
    """The next time (after `moment`) the active-hours window opens."""
    zone = ZoneInfo(schedule.get("activeTimezone") or "UTC")
    local = moment.astimezone(zone)
    opening = datetime.combine(local.date(), datetime.min.time(), zone).replace(hour=schedule["activeHoursStart"])
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                   zone).replace(hour=schedule["activeHoursStart"])
    return opening.astimezone(UTC)


def has_window(schedule: dict) -> bool:
    return schedule.get("activeHoursStart") is not None and schedule.get("activeHoursEnd") is not None


def in_active_hours(schedule: dict, moment: datetime) -> bool:
    """[start, end) in the schedule's activeTimezone; start > end is an overnight window."""
    if not has_window(schedule):
        return True
    start, end = schedule["activeHoursStart"], schedule["activeHoursEnd"]
    hour = moment.astimezone(ZoneInfo(schedule.get("activeTimezone") or "UTC")).hour
    if start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def next_midnight(tz: str, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    return midnight.astimezone(UTC)


def heartbeat_prompt(schedule: dict) -> str:
    lines = [schedule["prompt"], "", "Checklist:"]
    for item in schedule.get("heartbeatChecklist") or []:
        lines.append(f"[{str(item.get('priority') or 'medium').upper()}] ({item['id']}) {item['instruction']}")
    lines += ["", HEARTBEAT_JSON_INSTRUCTIONS]
    return "\n".join(lines)


_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)


def heartbeat_verdict(text: str | None) -> tuple[bool, list[dict], bool]:
    """(action_needed, items, parsed). Unparseable answers count as action needed (fail-open)."""
    for candidate in _candidates(text or ""):
        try:
            data = scrub_json(json.loads(candidate))
        except ValueError:
            continue
        if isinstance(data, dict) and "action_needed" in data:
            items = data.get("items") if isinstance(data.get("items"), list) else []
            return bool(data["action_needed"]), [i for i in items if isinstance(i, dict)], True
    return True, [], False


def _candidates(text: str):
    yield text.strip()
    yield from _FENCED.findall(text)
    start, tries = text.find("{"), 0
    while start != -1 and tries < 20:  # bounded: a reply without JSON must not cost O(n^2)
        tries += 1
        depth = 0
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                yield text[start:index + 1]
                break
        start = text.find("{", start + 1)


UPCOMING = 3


def presented(schedule: dict, now: datetime | None = None) -> dict:
    """The schedule as the list shows it (extension fields): `description` (the cron in words),
    `effectiveTimeZone` (its own zone, else the machine's; `timeZone` stays the stored choice,
    null meaning the machine's, so a PATCH round-trip never pins a zone) and `nextFireTimes`
    (the next three slots in that zone, active hours honoured; none while paused or finished)."""
    cron = schedule.get("cronExpression") or ""
    out = {**schedule, "effectiveTimeZone": zone_of(schedule), "nextFireTimes": []}
    try:
        out["description"] = describe(cron)
    except ValueError:  # not five fields: shown as it is
        out["description"] = cron
    if schedule.get("status") != "active":
        return out
    after, times = now or datetime.now(UTC), []
    try:
        while len(times) < UPCOMING:
            slot = next_slot(schedule, after)
            if slot is None:
                break
            times.append(slot)
            after = parse_iso(slot)
    except Invalid:  # a stored zone or cron that no longer reads: no preview rather than a 500
        pass
    out["nextFireTimes"] = times
    return out

"""Schedule intervals: plain English, shorthand or cron → one 5-field cron; and its next fire times.

Pure functions, no clock of their own (`after` is injected), no database.

`parse_interval` tries, first match wins: the natural-language phrases ("every monday at 9am",
"weekdays at 9:30", "every 15 minutes", "twice a day", ...), then shorthand (`5m`, `2h`, `1d`),
then a raw 5-field cron checked by croniter. Anything else is `Invalid` with examples.

`next_fire_times` evaluates the cron in an IANA zone's wall clock, DST-safe (decision 006):
- a wall time that does not exist (spring forward) fires at the same offset after the gap
  (02:30 → 03:30), once;
- a wall time that exists twice (fall back) fires once, at its first occurrence, for a schedule
  with fixed hours; a schedule whose hour field is `*` or `*/N` keeps its real-time rhythm and
  fires in both passes of the repeated hour.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from ...errors import Invalid

EXAMPLES = ("every monday at 9am", "weekdays at 9:30", "daily at 18:00", "every 15 minutes",
            "every 2 hours", "hourly", "twice a day", "first of every month", "30m", "2h", "1d",
            "0 9 * * 1-5")
HOW_TO_WRITE_TIMES = "Write times as 9am, 9:30am, 3 pm, 15:00, noon or midnight."
DEFAULT_HOUR = 9  # "daily", "weekly", "every monday", "1d": at 09:00, as the original

DAYS = {"sunday": 0, "sun": 0, "monday": 1, "mon": 1, "tuesday": 2, "tue": 2, "tues": 2,
        "wednesday": 3, "wed": 3, "thursday": 4, "thu": 4, "thur": 4, "thurs": 4,
        "friday": 5, "fri": 5, "saturday": 6, "sat": 6}
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY = "(?:" + "|".join(sorted(DAYS, key=len, reverse=True)) + ")s?"
_DAY_LIST = rf"{_DAY}(?:\s*(?:,|and|&)\s*{_DAY})*"
_AT = r"(?:\s+at\s+(?P<time>.+))?"
MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
          "@annually": "0 0 1 1 *"}
PERIODS = {"morning": 9, "afternoon": 14, "evening": 18, "night": 21}
MAX_YEARS_BETWEEN_FIRES = 10  # a 29 February schedule waits up to 8 years
DST_WINDOW = timedelta(hours=3)


@dataclass(frozen=True)
class ParsedInterval:
    cron_expression: str
    description: str
    confidence: float


def _fail(text: str, why: str = "") -> Invalid:
    reason = f" {why}" if why else ""
    return Invalid(f"Could not parse the interval '{text}'.{reason} Examples: {', '.join(EXAMPLES)}.",
                   code="INVALID_INTERVAL")


# ---- times -------------------------------------------------------------------------------------

def parse_time(raw: str) -> tuple[int, int]:
    """'9am', '9:30 am', '3 pm', '15:00', 'noon', 'midnight' → (hour, minute); Invalid says why not."""
    s = re.sub(r"([ap])\.?m\.?$", r"\1m", re.sub(r"\s+", " ", raw.strip().lower()))
    if s in ("noon", "12 noon", "midday"):
        return 12, 0
    if s in ("midnight", "12 midnight"):
        return 0, 0
    if m := re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))? ?(am|pm)", s):
        hour, minute = int(m[1]), int(m[2] or 0)
        if not 1 <= hour <= 12:
            raise Invalid(f"'{raw}' is not a valid time: 12-hour times use hours 1 to 12 "
                          f"(write 1pm, or 13:00 on the 24-hour clock).", code="INVALID_INTERVAL")
        _check_minute(raw, minute)
        return hour % 12 + (12 if m[3] == "pm" else 0), minute
    if m := re.fullmatch(r"(\d{1,2})[:.](\d{2})", s):
        hour, minute = int(m[1]), int(m[2])
        if hour > 23:
            raise Invalid(f"'{raw}' is not a valid time: hours go from 0 to 23"
                          f"{' (write midnight or 00:00)' if hour == 24 else ''}.", code="INVALID_INTERVAL")
        _check_minute(raw, minute)
        return hour, minute
    if re.fullmatch(r"\d{1,2}", s):
        raise Invalid(f"'{raw}' is ambiguous: write {s}am, {s}pm or {int(s):02d}:00.", code="INVALID_INTERVAL")
    raise Invalid(f"Could not read the time '{raw}'. {HOW_TO_WRITE_TIMES}", code="INVALID_INTERVAL")


def _check_minute(raw: str, minute: int) -> None:
    if minute > 59:
        raise Invalid(f"'{raw}' is not a valid time: minutes go from 0 to 59.", code="INVALID_INTERVAL")


def _at(match: re.Match, default_hour: int = DEFAULT_HOUR) -> tuple[int, int]:
    time = match.groupdict().get("time")
    return parse_time(time) if time else (default_hour, 0)


# ---- natural language ----------------------------------------------------------------------------

def _days(match: re.Match) -> str:
    found = sorted({DAYS[d.rstrip("s") if d.rstrip("s") in DAYS else d]
                    for d in re.findall(_DAY, match["days"])})
    return ",".join(str(d) for d in found)


def _every_n(n: int, unit: str) -> str:
    if unit.startswith("s"):
        raise Invalid("Sub-minute intervals are not supported: the shortest interval is every minute.",
                      code="INVALID_INTERVAL")
    if unit.startswith("m"):
        if not 1 <= n <= 59:
            hint = f" ({n} minutes is every {n // 60} hours)" if n % 60 == 0 and n < 1440 else ""
            raise Invalid(f"Every {n} minutes: minutes must be between 1 and 59{hint}; for longer intervals "
                          "use 'every N hours' or 'daily at <time>'.", code="INVALID_INTERVAL")
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    if not 1 <= n <= 23:
        raise Invalid(f"Every {n} hours: hours must be between 1 and 23; for longer intervals use "
                      "'daily at <time>' or 'Nd' (every N days).", code="INVALID_INTERVAL")
    return "0 * * * *" if n == 1 else f"0 */{n} * * *"


def _natural(text: str) -> tuple[str, float] | None:
    """(cron, confidence) for a recognised phrase, None when no phrase matches."""
    m = re.fullmatch(rf"(?:(?:every|on|each)\s+)?(?P<days>{_DAY_LIST}){_AT}", text)
    if m:
        hour, minute = _at(m)
        return f"{minute} {hour} * * {_days(m)}", 1.0
    if m := re.fullmatch(rf"(?:daily|every\s+day|each\s+day){_AT}", text):
        hour, minute = _at(m)
        return f"{minute} {hour} * * *", 1.0
    if m := re.fullmatch(rf"(?:(?:every|on|each)\s+)?weekdays?{_AT}", text):
        hour, minute = _at(m)
        return f"{minute} {hour} * * 1-5", 1.0
    if m := re.fullmatch(rf"(?:(?:every|on|each)\s+)?weekends?{_AT}", text):
        hour, minute = _at(m)
        return f"{minute} {hour} * * 0,6", 1.0
    if m := re.fullmatch(r"every\s+(\d+)\s*(hours?|hrs?|minutes?|mins?|seconds?|secs?)", text):
        return _every_n(int(m[1]), m[2]), 1.0
    if m := re.fullmatch(r"every\s+(morning|afternoon|evening|night)", text):
        return f"0 {PERIODS[m[1]]} * * *", 1.0
    fixed = {"hourly": "0 * * * *", "every hour": "0 * * * *", "every minute": "* * * * *",
             "weekly": f"0 {DEFAULT_HOUR} * * 1", "every week": f"0 {DEFAULT_HOUR} * * 1",
             "monthly": f"0 {DEFAULT_HOUR} 1 * *", "every month": f"0 {DEFAULT_HOUR} 1 * *",
             "twice a day": f"0 {DEFAULT_HOUR},17 * * *", "twice daily": f"0 {DEFAULT_HOUR},17 * * *"}
    if text in fixed:
        return fixed[text], 1.0
    if m := re.fullmatch(rf"(?:the\s+)?first(?:\s+day)?\s+of\s+(?:every|the|each)\s+month{_AT}", text):
        hour, minute = _at(m)
        return f"{minute} {hour} 1 * *", 1.0
    # "at 9am", or a bare time ("9am", "15:00"), only implies "daily".
    if m := re.fullmatch(r"at\s+(?P<time>.+)|(?P<bare>\d{1,2}[:.]\d{2}|\d{1,2}(?:[:.]\d{2})? ?[ap]\.?m\.?)", text):
        hour, minute = parse_time(m["time"] or m["bare"])
        return f"{minute} {hour} * * *", 0.9
    return None


def _shorthand(text: str) -> str | None:
    m = re.fullmatch(r"(\d+)\s*([smhd])", text)
    if not m:
        return None
    n, unit = int(m[1]), m[2]
    if unit == "d":
        if not 1 <= n <= 31:
            raise Invalid(f"'{text}': days must be between 1 and 31.", code="INVALID_INTERVAL")
        return f"0 {DEFAULT_HOUR} * * *" if n == 1 else f"0 {DEFAULT_HOUR} */{n} * *"
    return _every_n(n, {"s": "seconds", "m": "minutes", "h": "hours"}[unit])


def _cron(text: str) -> str | None:
    """A 5-field cron (or an @macro), case kept: croniter reads `L`, `W`, `MON-FRI`."""
    if text.lower() in MACROS:
        return MACROS[text.lower()]
    fields = text.split()
    if len(fields) in (6, 7):
        raise Invalid(f"'{text}' has {len(fields)} fields: stagent takes 5-field cron (minute hour "
                      "day-of-month month day-of-week); seconds and years are not supported.",
                      code="INVALID_CRON")
    if len(fields) != 5 or not re.fullmatch(r"[\w*/,\-#?]+", "".join(fields)):
        return None
    expression = " ".join(fields)
    if not croniter.is_valid(expression):
        raise Invalid(f"'{text}' is not a valid cron expression (minute 0-59, hour 0-23, day 1-31, "
                      "month 1-12, day-of-week 0-7).", code="INVALID_CRON")
    return expression


def parse_interval(text: str) -> ParsedInterval:
    """Natural language, then shorthand, then 5-field cron → ParsedInterval; Invalid otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise _fail(text if isinstance(text, str) else "", "It is empty.")
    normal = re.sub(r"\s+", " ", text.strip().lower()).rstrip(".")
    if len(normal) > 200:
        raise _fail(normal[:40] + "…", "It is longer than 200 characters.")
    confidence = 1.0
    if found := _natural(normal):
        cron, confidence = found
    elif not (cron := _shorthand(normal) or _cron(" ".join(text.split()))):
        raise _fail(text.strip())
    if not next_fire_times(cron, "UTC", 1, datetime(2000, 1, 1, tzinfo=UTC)):
        raise Invalid(f"'{text.strip()}' never fires (no such date).", code="INVALID_CRON")
    return ParsedInterval(cron, describe(cron), confidence)


# ---- description -----------------------------------------------------------------------------

def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _day_phrase(dow: str) -> str | None:
    if dow == "*":
        return "Every day"
    if dow == "1-5":
        return "Every weekday"
    if re.fullmatch(r"[0-7](,[0-7])*", dow):
        days = sorted({int(d) % 7 for d in dow.split(",")}, key=lambda d: (d == 0, d))  # Monday first
        return "Every " + _join([DAY_NAMES[d] for d in days])
    return None


def describe(cron: str) -> str:
    """A sentence for the common shapes ("Every weekday at 09:00"); the cron itself otherwise."""
    minute, hour, dom, month, dow = cron.split()
    dow = re.sub(r"[a-z]{3}", lambda m: str(DAYS.get(m[0], m[0])), dow.lower())  # mon-fri → 1-5
    fallback = f"On the cron schedule '{cron}'"
    if month != "*":
        return fallback
    if (minute, hour, dom, dow) == ("*", "*", "*", "*"):
        return "Every minute"
    if m := re.fullmatch(r"\*/(\d+)", minute):
        if (hour, dom, dow) == ("*", "*", "*"):
            n = int(m[1])
            return f"Every {n} minutes" + ("" if 60 % n == 0 else " (restarting at each full hour)")
        return fallback
    if not minute.isdigit():
        return fallback
    past = "" if minute == "0" else f" at {int(minute)} minutes past"
    if (dom, dow) == ("*", "*") and hour == "*":
        return "Every hour" + past
    if (dom, dow) == ("*", "*") and (m := re.fullmatch(r"\*/(\d+)", hour)):
        n = int(m[1])
        return f"Every {n} hours{past}" + ("" if 24 % n == 0 else " (restarting at midnight)")
    if not re.fullmatch(r"\d+(,\d+)*", hour):
        return fallback
    times = " at " + _join([f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")])
    if dom == "*":
        days = _day_phrase(dow)
        return days + times if days else fallback
    if dow != "*":
        return fallback
    if dom.isdigit():
        return f"On the {_ordinal(int(dom))} of every month{times}"
    if m := re.fullmatch(r"\*/(\d+)", dom):
        n = int(m[1])
        days = [str(d) for d in range(1, 32, n)]
        listed = ", ".join(days[:3]) + (", …" if len(days) > 3 else "")
        return f"Every {n} days{times} (day{'s' if len(days) > 1 else ''} {listed} of each month)"
    return fallback


# ---- time zones and next fire times -----------------------------------------------------------

def zone(name: str | None) -> ZoneInfo:
    """The IANA zone (None: the machine's); Invalid for an unknown name."""
    name = local_zone_name() if name is None else name
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise Invalid("Time zone must be an IANA name such as Europe/Berlin or UTC.", code="INVALID_TIMEZONE")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"Unknown time zone '{name}': use an IANA name such as Europe/Berlin, "
                      "America/New_York or UTC.", code="INVALID_TIMEZONE") from None


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False


def local_zone_name() -> str:
    """The machine's IANA zone: $TZ, else the /etc/localtime link, else /etc/timezone, else UTC."""
    candidates = []
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        candidates.append(tz.split("zoneinfo/", 1)[-1])
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        if name and _valid_zone(name):
            return name
    return "UTC"


def _instants(wall: datetime, tz: ZoneInfo, both_passes: bool) -> list[datetime]:
    """The UTC instants a local wall time names: 1, or 2 in a repeated hour when both_passes."""
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return [first.astimezone(UTC)]  # in the spring-forward gap: fold=0 lands after it
    second = wall.replace(tzinfo=tz, fold=1)
    if both_passes and second.utcoffset() != first.utcoffset():
        return [first.astimezone(UTC), second.astimezone(UTC)]
    return [first.astimezone(UTC)]


def _near_transition(tz: ZoneInfo, instant: datetime) -> bool:
    """Whether the zone's offset changes within 3 h of this instant (DST shifts are at most 2 h)."""
    return (instant - DST_WINDOW).astimezone(tz).utcoffset() != (instant + DST_WINDOW).astimezone(tz).utcoffset()


def next_fire_times(cron: str, tz: str | None, count: int, after: datetime | None = None) -> list[datetime]:
    """The next `count` fire times strictly after `after` (default now), as aware UTC datetimes."""
    if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise Invalid(f"'{cron}' is not a valid 5-field cron expression.", code="INVALID_CRON")
    tzinfo = zone(tz)
    after = (after or datetime.now(UTC)).astimezone(UTC)
    if count <= 0:
        return []
    # Interval schedules (hour * or */N) keep their real-time rhythm through a repeated hour.
    both_passes = cron.split()[1].startswith("*")
    start = after.astimezone(tzinfo).replace(tzinfo=None)
    if _near_transition(tzinfo, after):
        start -= DST_WINDOW  # the second pass of a repeated hour reads earlier on the wall clock
    walls = croniter(cron, start, max_years_between_matches=MAX_YEARS_BETWEEN_FIRES)
    found: set[datetime] = set()
    while True:
        try:
            wall = walls.get_next(datetime)
        except CroniterBadDateError:
            break
        instants = _instants(wall, tzinfo, both_passes)
        found.update(t for t in instants if t > after)
        if len(found) < count:
            continue
        kth = sorted(found)[count - 1]
        # Wall times map to instants in order, except within a few hours of a DST shift.
        if not _near_transition(tzinfo, kth):
            if instants[0] >= kth:
                break
        elif wall > kth.astimezone(tzinfo).replace(tzinfo=None) + DST_WINDOW:
            break
    return sorted(found)[:count]

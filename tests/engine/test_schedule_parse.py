"""Interval parsing (every phrase, shorthand, cron and their failures) and DST-safe fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stagent.engine.schedules.parse import (
    EXAMPLES,
    local_zone_name,
    next_fire_times,
    parse_interval,
    parse_time,
)
from stagent.errors import Invalid

PHRASES = [
    # natural language
    ("every monday at 9am", "0 9 * * 1", "Every Monday at 09:00", 1.0),
    ("Every Monday at 9AM", "0 9 * * 1", "Every Monday at 09:00", 1.0),
    ("every sun at 8:15pm", "15 20 * * 0", "Every Sunday at 20:15", 1.0),
    ("on tue at 3 pm", "0 15 * * 2", "Every Tuesday at 15:00", 1.0),
    ("on thurs at midnight", "0 0 * * 4", "Every Thursday at 00:00", 1.0),
    ("mondays at noon", "0 12 * * 1", "Every Monday at 12:00", 1.0),
    ("every friday", "0 9 * * 5", "Every Friday at 09:00", 1.0),
    ("every mon, wed and fri at 10:15", "15 10 * * 1,3,5", "Every Monday, Wednesday and Friday at 10:15", 1.0),
    ("daily at 18:30", "30 18 * * *", "Every day at 18:30", 1.0),
    ("daily at 6:05 p.m.", "5 18 * * *", "Every day at 18:05", 1.0),
    ("every day at noon", "0 12 * * *", "Every day at 12:00", 1.0),
    ("weekdays at 9:30", "30 9 * * 1-5", "Every weekday at 09:30", 1.0),
    ("every weekday at 9am", "0 9 * * 1-5", "Every weekday at 09:00", 1.0),
    ("every weekdays at 7am", "0 7 * * 1-5", "Every weekday at 07:00", 1.0),
    ("on weekdays at 12am", "0 0 * * 1-5", "Every weekday at 00:00", 1.0),
    ("weekends at 10am", "0 10 * * 0,6", "Every Saturday and Sunday at 10:00", 1.0),
    ("every 2 hours", "0 */2 * * *", "Every 2 hours", 1.0),
    ("every 1 hour", "0 * * * *", "Every hour", 1.0),
    ("every 5 hours", "0 */5 * * *", "Every 5 hours (restarting at midnight)", 1.0),
    ("every 15 minutes", "*/15 * * * *", "Every 15 minutes", 1.0),
    ("every 10 mins", "*/10 * * * *", "Every 10 minutes", 1.0),
    ("every 7 min", "*/7 * * * *", "Every 7 minutes (restarting at each full hour)", 1.0),
    ("every morning", "0 9 * * *", "Every day at 09:00", 1.0),
    ("every afternoon", "0 14 * * *", "Every day at 14:00", 1.0),
    ("every evening", "0 18 * * *", "Every day at 18:00", 1.0),
    ("every night", "0 21 * * *", "Every day at 21:00", 1.0),
    ("hourly", "0 * * * *", "Every hour", 1.0),
    ("daily", "0 9 * * *", "Every day at 09:00", 1.0),
    ("weekly", "0 9 * * 1", "Every Monday at 09:00", 1.0),
    ("monthly", "0 9 1 * *", "On the 1st of every month at 09:00", 1.0),
    ("twice a day", "0 9,17 * * *", "Every day at 09:00 and 17:00", 1.0),
    ("first of every month", "0 9 1 * *", "On the 1st of every month at 09:00", 1.0),
    ("the first of the month at 8am", "0 8 1 * *", "On the 1st of every month at 08:00", 1.0),
    ("first of each month at 17:45", "45 17 1 * *", "On the 1st of every month at 17:45", 1.0),
    ("every hour", "0 * * * *", "Every hour", 1.0),
    ("every minute", "* * * * *", "Every minute", 1.0),
    ("at 7pm", "0 19 * * *", "Every day at 19:00", 0.9),
    ("at 12pm", "0 12 * * *", "Every day at 12:00", 0.9),
    ("15:00", "0 15 * * *", "Every day at 15:00", 0.9),
    ("  Every   15   Minutes. ", "*/15 * * * *", "Every 15 minutes", 1.0),
    # shorthand
    ("1m", "* * * * *", "Every minute", 1.0),
    ("30m", "*/30 * * * *", "Every 30 minutes", 1.0),
    ("59m", "*/59 * * * *", "Every 59 minutes (restarting at each full hour)", 1.0),
    ("1h", "0 * * * *", "Every hour", 1.0),
    ("2h", "0 */2 * * *", "Every 2 hours", 1.0),
    ("23h", "0 */23 * * *", "Every 23 hours (restarting at midnight)", 1.0),
    ("1d", "0 9 * * *", "Every day at 09:00", 1.0),
    ("3d", "0 9 */3 * *", "Every 3 days at 09:00 (days 1, 4, 7, … of each month)", 1.0),
    ("31d", "0 9 */31 * *", "Every 31 days at 09:00 (day 1 of each month)", 1.0),
    # cron
    ("0 9 * * 1-5", "0 9 * * 1-5", "Every weekday at 09:00", 1.0),
    ("0 9 * * MON-FRI", "0 9 * * MON-FRI", "Every weekday at 09:00", 1.0),
    ("30 * * * *", "30 * * * *", "Every hour at 30 minutes past", 1.0),
    ("5 4 * * sun", "5 4 * * sun", "Every Sunday at 04:05", 1.0),
    ("0 0 15 * *", "0 0 15 * *", "On the 15th of every month at 00:00", 1.0),
    ("0 9 L * *", "0 9 L * *", "On the cron schedule '0 9 L * *'", 1.0),
    ("0 12 1 1 *", "0 12 1 1 *", "On the cron schedule '0 12 1 1 *'", 1.0),
    ("@daily", "0 0 * * *", "Every day at 00:00", 1.0),
    ("@hourly", "0 * * * *", "Every hour", 1.0),
]


@pytest.mark.parametrize(("text", "cron", "description", "confidence"), PHRASES)
def test_every_phrase_parses_to_its_cron(text, cron, description, confidence):
    parsed = parse_interval(text)
    assert (parsed.cron_expression, parsed.description, parsed.confidence) == (cron, description, confidence)


FAILURES = [
    # (input, words the message must contain, code)
    ("", "It is empty", "INVALID_INTERVAL"),
    ("   ", "It is empty", "INVALID_INTERVAL"),
    ("every other tuesday", "Could not parse the interval 'every other tuesday'", "INVALID_INTERVAL"),
    ("whenever", "Examples: every monday at 9am", "INVALID_INTERVAL"),
    ("25:00", "hours go from 0 to 23", "INVALID_INTERVAL"),
    ("daily at 25:00", "hours go from 0 to 23", "INVALID_INTERVAL"),
    ("at 24:00", "write midnight or 00:00", "INVALID_INTERVAL"),
    ("every monday at 13pm", "12-hour times use hours 1 to 12", "INVALID_INTERVAL"),
    ("at 0am", "12-hour times use hours 1 to 12", "INVALID_INTERVAL"),
    ("at 9:75", "minutes go from 0 to 59", "INVALID_INTERVAL"),
    ("at 9:61pm", "minutes go from 0 to 59", "INVALID_INTERVAL"),
    ("daily at 9", "'9' is ambiguous: write 9am, 9pm or 09:00", "INVALID_INTERVAL"),
    ("every monday at teatime", "Could not read the time 'teatime'", "INVALID_INTERVAL"),
    ("every 0 minutes", "minutes must be between 1 and 59", "INVALID_INTERVAL"),
    ("every 90 minutes", "minutes must be between 1 and 59", "INVALID_INTERVAL"),
    ("every 120 minutes", "120 minutes is every 2 hours", "INVALID_INTERVAL"),
    ("every 24 hours", "hours must be between 1 and 23", "INVALID_INTERVAL"),
    ("every 30 seconds", "Sub-minute intervals are not supported", "INVALID_INTERVAL"),
    ("30s", "Sub-minute intervals are not supported", "INVALID_INTERVAL"),
    ("0m", "minutes must be between 1 and 59", "INVALID_INTERVAL"),
    ("60m", "minutes must be between 1 and 59", "INVALID_INTERVAL"),
    ("24h", "hours must be between 1 and 23", "INVALID_INTERVAL"),
    ("0d", "days must be between 1 and 31", "INVALID_INTERVAL"),
    ("32d", "days must be between 1 and 31", "INVALID_INTERVAL"),
    ("*/30 * * * * *", "has 6 fields", "INVALID_CRON"),
    ("0 0 9 * * 1 2026", "seconds and years are not supported", "INVALID_CRON"),
    ("60 * * * *", "not a valid cron expression", "INVALID_CRON"),
    ("0 24 * * *", "not a valid cron expression", "INVALID_CRON"),
    ("*/0 * * * *", "not a valid cron expression", "INVALID_CRON"),
    ("0 0 30 2 *", "never fires", "INVALID_CRON"),
    ("0 9 * *", "Could not parse", "INVALID_INTERVAL"),
    ("x" * 300, "longer than 200 characters", "INVALID_INTERVAL"),
]


@pytest.mark.parametrize(("text", "words", "code"), FAILURES)
def test_unparseable_intervals_say_why(text, words, code):
    with pytest.raises(Invalid) as caught:
        parse_interval(text)
    assert caught.value.status == 400
    assert words in caught.value.message
    assert caught.value.code == code


def test_a_generic_failure_lists_examples_that_all_parse():
    with pytest.raises(Invalid) as caught:
        parse_interval("every blue moon")
    for example in EXAMPLES:
        assert example in caught.value.message
        parse_interval(example)


@pytest.mark.parametrize(("raw", "expected"), [
    ("9am", (9, 0)), ("9:30am", (9, 30)), ("3 pm", (15, 0)), ("12am", (0, 0)), ("12pm", (12, 0)),
    ("12:59 PM", (12, 59)), ("15:00", (15, 0)), ("00:00", (0, 0)), ("23:59", (23, 59)),
    ("noon", (12, 0)), ("midnight", (0, 0)), ("7 a.m.", (7, 0)),
])
def test_times(raw, expected):
    assert parse_time(raw) == expected


# ---- next fire times ----------------------------------------------------------------------

def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def local(times: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).isoformat() for t in times]


def test_fire_times_are_aware_utc_strictly_after_and_in_order():
    times = next_fire_times("*/15 * * * *", "UTC", 4, at("2026-05-01T10:15:00+00:00"))
    assert times == [at("2026-05-01T10:30:00+00:00"), at("2026-05-01T10:45:00+00:00"),
                     at("2026-05-01T11:00:00+00:00"), at("2026-05-01T11:15:00+00:00")]
    assert all(t.tzinfo is UTC for t in times)


def test_fire_times_follow_the_zone_wall_clock():
    winter = next_fire_times("0 9 * * *", "Europe/Berlin", 1, at("2026-01-10T00:00:00+00:00"))
    summer = next_fire_times("0 9 * * *", "Europe/Berlin", 1, at("2026-07-10T00:00:00+00:00"))
    assert winter == [at("2026-01-10T08:00:00+00:00")]
    assert summer == [at("2026-07-10T07:00:00+00:00")]


def test_count_zero_is_empty_and_leap_days_are_found():
    assert next_fire_times("0 9 * * *", "UTC", 0) == []
    assert next_fire_times("0 0 29 2 *", "UTC", 1, at("2026-03-01T00:00:00+00:00")) == [
        at("2028-02-29T00:00:00+00:00")]


DST = [
    # (cron, zone, after, expected local fire times): spring forward fires the missing time once,
    # shifted past the gap; fall back fires a fixed time once; interval schedules keep real time.
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
     ["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"]),
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00",
     ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
     ["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
     ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ("0 * * * *", "America/New_York", "2026-03-08T00:30:00-05:00",
     ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]),
    ("0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00",
     ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
    ("*/30 * * * *", "America/New_York", "2026-03-08T01:00:00-05:00",
     ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T02:15:00+02:00",
     ["2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00",
      "2026-10-25T03:00:00+01:00"]),
]


@pytest.mark.parametrize(("cron", "zone", "after", "expected"), DST)
def test_dst_transitions(cron, zone, after, expected):
    times = next_fire_times(cron, zone, len(expected), at(after))
    assert local(times, zone) == expected
    assert times == sorted(set(times))


def test_a_daily_fixed_time_fires_once_on_each_dst_day():
    for zone, day in (("America/New_York", "2026-03-08"), ("America/New_York", "2026-11-01"),
                      ("Europe/Berlin", "2026-03-29"), ("Europe/Berlin", "2026-10-25")):
        for cron in ("30 1 * * *", "30 2 * * *", "0 3 * * *"):
            start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)) - timedelta(hours=12)
            times = next_fire_times(cron, zone, 3, start)
            on_day = [t for t in times if t.astimezone(ZoneInfo(zone)).date().isoformat() == day]
            assert len(on_day) == 1, (zone, day, cron, local(times, zone))


def test_starting_inside_the_repeated_hour_still_finds_the_second_pass():
    # 01:40 EDT, first pass: the every-15-minutes schedule continues at 01:45 EDT, then 01:00 EST.
    times = next_fire_times("*/15 * * * *", "America/New_York", 3, at("2026-11-01T01:40:00-04:00"))
    assert local(times, "America/New_York") == [
        "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00"]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "x" * 200])
def test_unknown_zones_are_invalid(zone):
    with pytest.raises(Invalid) as caught:
        next_fire_times("0 9 * * *", zone, 1)
    assert caught.value.code == "INVALID_TIMEZONE"


@pytest.mark.parametrize("cron", ["", "every day", "0 9 * * * *", "61 * * * *"])
def test_invalid_crons_are_invalid(cron):
    with pytest.raises(Invalid) as caught:
        next_fire_times(cron, "UTC", 1)
    assert caught.value.code == "INVALID_CRON"


def test_local_zone_name_reads_tz_and_defaults_to_it(monkeypatch):
    monkeypatch.setenv("TZ", ":Asia/Tokyo")
    assert local_zone_name() == "Asia/Tokyo"
    after = at("2026-05-01T00:00:00+00:00")
    assert next_fire_times("0 9 * * *", None, 1, after) == [at("2026-05-01T00:00:00+00:00") + timedelta(days=1)]
    monkeypatch.setenv("TZ", "/usr/share/zoneinfo/Europe/Berlin")
    assert local_zone_name() == "Europe/Berlin"
    monkeypatch.setenv("TZ", "Not/A_Zone")
    fallback = local_zone_name()
    assert fallback != "Not/A_Zone"
    ZoneInfo(fallback)  # whatever the machine says, it is a real IANA name (UTC at worst)

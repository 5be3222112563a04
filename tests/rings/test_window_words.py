"""Maintenance windows in words and their calendar of openings (pure functions)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rings.windows import WindowSpec, calendar_openings, describe, zone_label

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            WindowSpec("weekly", time(2), timedelta(hours=3), weekdays=(6,)),
            "Sundays 02:00–05:00 Chicago time",
        ),
        (
            WindowSpec("weekly", time(22), timedelta(hours=4), weekdays=(2, 0, 4)),
            "Mondays, Wednesdays and Fridays 22:00–02:00 (next day) Chicago time",
        ),
        (
            WindowSpec("weekly", time(0), timedelta(hours=24), weekdays=tuple(range(7))),
            "Every day 00:00–00:00 (next day) Chicago time",
        ),
        (
            WindowSpec("weekly", time(19), timedelta(hours=2), weekdays=(0, 1, 2, 3, 4)),
            "Mondays to Fridays 19:00–21:00 Chicago time",
        ),
        (
            WindowSpec("monthly_day", time(1, 30), timedelta(minutes=90), day_of_month=31),
            "Day 31 of each month (the last day in shorter months) 01:30–03:00 Chicago time",
        ),
        (
            WindowSpec("monthly_nth_weekday", time(23), timedelta(hours=2), nth=-1, weekday=4),
            "Last Friday of each month 23:00–01:00 (next day) Chicago time",
        ),
        (
            WindowSpec("patch_tuesday", time(20), timedelta(hours=50), offset_days=4),
            "4 days after Patch Tuesday 20:00–22:00 (+2 days) Chicago time",
        ),
        (
            WindowSpec("patch_tuesday", time(20), timedelta(hours=1), offset_days=-1),
            "1 day before Patch Tuesday 20:00–21:00 Chicago time",
        ),
    ],
)
def test_a_window_in_words_names_its_days(spec, words):
    assert describe(spec, CHICAGO) == words


def test_zone_label():
    assert zone_label(ZoneInfo("America/Los_Angeles")) == "Los Angeles time"
    assert zone_label(ZoneInfo("UTC")) == "UTC"


def test_calendar_crosses_the_spring_forward_change_in_the_clients_zone():
    sundays = WindowSpec("weekly", time(2, 30), timedelta(hours=3), weekdays=(6,))
    nightly = WindowSpec("weekly", time(22), timedelta(hours=4), weekdays=tuple(range(7)))
    # Saturday 2026-03-07 23:00 CST: Saturday's nightly window is open; clocks jump at 02:00
    # on Sunday 8 March.
    at = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    rows = calendar_openings([("sun", sundays), ("night", nightly)], CHICAGO, at, days=8)
    local = [(s.astimezone(CHICAGO), e.astimezone(CHICAGO), key) for s, e, key in rows]
    first_start, first_end, first_key = local[0]
    assert first_key == "night" and first_start < at.astimezone(CHICAGO) < first_end
    sunday = [(s, e) for s, e, key in local if key == "sun"]
    # 02:30 does not exist on 8 March: the window opens 03:30 CDT and still lasts 3 hours.
    assert sunday[0][0].strftime("%Y-%m-%d %H:%M %Z") == "2026-03-08 03:30 CDT"
    assert sunday[0][1] - sunday[0][0] == timedelta(hours=3)
    assert sunday[1][0].strftime("%Y-%m-%d %H:%M %Z") == "2026-03-15 02:30 CDT"
    # Earliest first, and nothing beyond the horizon.
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert all(s < at + timedelta(days=8) for s, _, _ in rows)
    assert sum(1 for _, _, key in rows if key == "night") == 9  # the open one and 8 more

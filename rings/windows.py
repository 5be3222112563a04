"""Maintenance-window arithmetic: pure functions, no database.

A window recurs on local calendar dates of the client's time zone and opens at a local wall-clock
time for an elapsed duration. Rules, chosen on purpose and tested:

* **Monthly by day 29–31** in a shorter month opens on the month's last day (31 → 30 April,
  28/29 February). It is never skipped: a month always has its window.
* **nth weekday**: ``nth`` 1–4 counts from the start of the month, ``-1`` means the last one
  ("last Friday").
* **Patch Tuesday** is the second Tuesday of the month; ``offset_days`` moves from it (Patch
  Tuesday + 4 days is the Saturday after). The offset may cross into the next month.
* **Spring forward**: a start time that does not exist that day (02:30 when clocks jump from 02:00
  to 03:00) is read with the offset in force before the jump, so the window opens at 03:30 local
  wall time and still lasts its full duration.
* **Fall back**: a start time that happens twice (01:30 when clocks go back from 02:00 to 01:00)
  opens at its first occurrence (``fold=0``), once.
* The duration is elapsed time, so a 4-hour window across a DST change still lasts 4 hours.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .choices import WindowRecurrence

__all__ = [
    "WindowSpec",
    "patch_tuesday",
    "nth_weekday",
    "occurs_on",
    "local_start",
    "occurrences",
    "next_occurrence",
    "current_or_next",
    "is_open",
    "describe",
    "zone_label",
    "calendar_openings",
]

# How far ahead a search looks before concluding that a window never opens.
SEARCH_DAYS = 800


@dataclass(frozen=True)
class WindowSpec:
    recurrence: str
    start_time: time
    duration: timedelta
    weekdays: tuple[int, ...] = field(default=())  # 0 = Monday … 6 = Sunday
    day_of_month: int | None = None
    nth: int | None = None  # 1..4 or -1 (last)
    weekday: int | None = None
    offset_days: int = 0


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` (1–4, or -1 for last) ``weekday`` of a month."""
    if nth == -1:
        last = date(year, month, _last_day(year, month))
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def patch_tuesday(year: int, month: int) -> date:
    """Microsoft's release day: the second Tuesday of the month."""
    return nth_weekday(year, month, calendar.TUESDAY, 2)


def occurs_on(spec: WindowSpec, day: date) -> bool:
    """Whether the window opens on this local calendar date."""
    if spec.recurrence == WindowRecurrence.WEEKLY:
        return day.weekday() in spec.weekdays
    if spec.recurrence == WindowRecurrence.MONTHLY_DAY:
        wanted = min(spec.day_of_month or 1, _last_day(day.year, day.month))
        return day.day == wanted
    if spec.recurrence == WindowRecurrence.MONTHLY_NTH_WEEKDAY:
        if spec.weekday is None or spec.nth is None:
            return False
        return day == nth_weekday(day.year, day.month, spec.weekday, spec.nth)
    if spec.recurrence == WindowRecurrence.PATCH_TUESDAY:
        base = day - timedelta(days=spec.offset_days)
        return base == patch_tuesday(base.year, base.month)
    raise ValueError(f"Unknown recurrence {spec.recurrence!r}.")


def local_start(day: date, start: time, tz: ZoneInfo) -> datetime:
    """The aware UTC instant at which a window dated ``day`` opens (see the module rules)."""
    wall = datetime.combine(day, start.replace(tzinfo=None, fold=0), tzinfo=tz)
    return wall.astimezone(UTC)


def occurrences(
    spec: WindowSpec, tz: ZoneInfo, from_day: date
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each opening on or after local date ``from_day``, in order."""
    for offset in range(SEARCH_DAYS):
        day = from_day + timedelta(days=offset)
        if occurs_on(spec, day):
            start = local_start(day, spec.start_time, tz)
            yield start, start + spec.duration


def _search_from(spec: WindowSpec, tz: ZoneInfo, at: datetime) -> date:
    # Start early enough to see a window that opened on an earlier day and is still open.
    return at.astimezone(tz).date() - timedelta(days=spec.duration.days + 2)


def next_occurrence(
    spec: WindowSpec, tz: ZoneInfo, after: datetime
) -> tuple[datetime, datetime] | None:
    """The first opening that starts at or after ``after``; None when it never opens."""
    for start, end in occurrences(spec, tz, _search_from(spec, tz, after)):
        if start >= after:
            return start, end
    return None


def current_or_next(
    spec: WindowSpec, tz: ZoneInfo, at: datetime
) -> tuple[datetime, datetime] | None:
    """The opening that contains ``at``, else the next one."""
    for start, end in occurrences(spec, tz, _search_from(spec, tz, at)):
        if end > at:
            return start, end
    return None


def is_open(spec: WindowSpec, tz: ZoneInfo, at: datetime) -> bool:
    found = current_or_next(spec, tz, at)
    return found is not None and found[0] <= at < found[1]


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", -1: "Last"}


def zone_label(tz: ZoneInfo) -> str:
    """``America/Chicago`` → ``Chicago time``; ``UTC`` → ``UTC``."""
    key = getattr(tz, "key", str(tz))
    if key in ("UTC", "Etc/UTC"):
        return "UTC"
    return key.rsplit("/", 1)[-1].replace("_", " ") + " time"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _days(spec: WindowSpec) -> str:
    if spec.recurrence == WindowRecurrence.WEEKLY:
        days = sorted(set(spec.weekdays))
        if not days:
            return "No day"
        if days == list(range(7)):
            return "Every day"
        if days == list(range(5)):
            return "Mondays to Fridays"
        if days == [5, 6]:
            return "Saturdays and Sundays"
        return _join([DAY_NAMES[d] + "s" for d in days])
    if spec.recurrence == WindowRecurrence.MONTHLY_DAY:
        day = spec.day_of_month or 1
        last = " (the last day in shorter months)" if day > 28 else ""
        return f"Day {day} of each month{last}"
    if spec.recurrence == WindowRecurrence.MONTHLY_NTH_WEEKDAY:
        if spec.nth not in ORDINALS or spec.weekday is None:
            return "No day"
        return f"{ORDINALS[spec.nth]} {DAY_NAMES[spec.weekday]} of each month"
    if spec.recurrence == WindowRecurrence.PATCH_TUESDAY:
        offset = spec.offset_days
        if offset == 0:
            return "Patch Tuesday"
        unit = "day" if abs(offset) == 1 else "days"
        return f"{abs(offset)} {unit} {'after' if offset > 0 else 'before'} Patch Tuesday"
    return spec.recurrence


def describe(spec: WindowSpec, tz: ZoneInfo) -> str:
    """A window in words, the days named: ``Sundays 02:00–05:00 Chicago time``,
    ``Second Tuesday of each month 22:00–02:00 (next day) Chicago time``."""
    start = datetime.combine(date(2000, 1, 3), spec.start_time.replace(tzinfo=None))
    end = start + spec.duration
    later = (end.date() - start.date()).days
    suffix = "" if later == 0 else " (next day)" if later == 1 else f" (+{later} days)"
    return f"{_days(spec)} {start:%H:%M}–{end:%H:%M}{suffix} {zone_label(tz)}"


def calendar_openings(
    specs: list[tuple[object, WindowSpec]], tz: ZoneInfo, at: datetime, *, days: int = 28
) -> list[tuple[datetime, datetime, object]]:
    """Every opening of the given windows (``(key, spec)`` pairs) that is open at ``at`` or
    opens within ``days`` days of it, as (start, end, key) in UTC, earliest first."""
    horizon = at + timedelta(days=days)
    found = []
    for key, spec in specs:
        for start, end in occurrences(spec, tz, _search_from(spec, tz, at)):
            if start >= horizon:
                break
            if end > at:
                found.append((start, end, key))
    found.sort(key=lambda row: (row[0], row[1]))
    return found

"""Report periods: calendar months written ``YYYY-MM``."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

__all__ = ["parse_period", "previous_month", "format_period", "period_bounds"]

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(value: str) -> date:
    """``"2026-10"`` → ``date(2026, 10, 1)``; ValueError with a clear message otherwise."""
    match = _PERIOD_RE.match((value or "").strip())
    if not match:
        raise ValueError(f"“{value}” is not a period; write it as YYYY-MM, e.g. 2026-10.")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError(f"“{value}” is not a valid month (YYYY-MM, year 2000 or later).")
    return date(year, month, 1)


def previous_month(moment: datetime | date) -> date:
    first = date(moment.year, moment.month, 1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def format_period(period: date) -> str:
    return f"{period:%Y-%m}"


def period_bounds(period: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month ``period`` in the client's time zone."""
    start = datetime.combine(period.replace(day=1), time.min, tzinfo=tz)
    nxt = date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    return start, datetime.combine(nxt, time.min, tzinfo=tz)

"""Small presentation helpers: inline SVG sparklines and percentage bars (no scripts, no CDN)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from common.thresholds import pct_colour

register = template.Library()

PCT_COLOR = {"green": "#1b7f3b", "orange": "#a86500", "red": "#b3261e", "gray": "#c3cad6"}


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _pct_color(value: float | None) -> str:
    return pct_colour(value)


@register.simple_tag
def pct_bar(value: Any, width: int = 70, height: int = 8) -> SafeString:
    """A horizontal bar filled to ``value`` % in the compliance colour of that value."""
    number = _number(value)
    fill = 0.0 if number is None else max(0.0, min(100.0, number)) * width / 100
    return format_html(
        '<svg class="pct-bar" width="{}" height="{}" viewBox="0 0 {} {}" aria-hidden="true">'
        '<rect width="{}" height="{}" rx="{}" fill="#e8ecf2"/>'
        '<rect width="{}" height="{}" rx="{}" fill="{}"/></svg>',
        width,
        height,
        width,
        height,
        width,
        height,
        height / 2,
        f"{fill:.1f}",
        height,
        height / 2,
        PCT_COLOR[_pct_color(number)],
    )


@register.simple_tag
def sparkline(
    values: Any, attr: str = "", width: int = 120, height: int = 28, lo: Any = None, hi: Any = None
) -> SafeString:
    """An inline SVG line of ``values`` (or of each item's ``attr``); gaps (None) are skipped.

    The scale runs from ``lo`` to ``hi`` when given, else from the data's own range.
    """
    raw = [getattr(v, attr) if attr else v for v in (values or [])]
    numbers = [_number(v) for v in raw]
    known = [n for n in numbers if n is not None]
    if not known:
        return format_html('<span class="muted">{}</span>', "no data")
    low = _number(lo) if lo is not None else min(known)
    high = _number(hi) if hi is not None else max(known)
    if high is None or low is None or high - low < 1e-9:
        low, high = (low or 0) - 1, (high or 0) + 1
    pad = 3
    step = (width - 2 * pad) / max(1, len(numbers) - 1)

    def y(n: float) -> float:
        return height - pad - (n - low) * (height - 2 * pad) / (high - low)

    points = [(pad + i * step, y(n)) for i, n in enumerate(numbers) if n is not None]
    last_x, last_y = points[-1]
    title = f"{len(known)} days, from {known[0]:.1f} to {known[-1]:.1f}"
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img">'
        "<title>{}</title>"
        '<line class="base" x1="0" y1="{}" x2="{}" y2="{}"/>'
        '<polyline points="{}"/><circle cx="{}" cy="{}" r="2.2"/></svg>',
        width,
        height,
        width,
        height,
        title,
        height - 0.5,
        width,
        height - 0.5,
        format_html_join(" ", "{},{}", ((f"{px:.1f}", f"{py:.1f}") for px, py in points)),
        f"{last_x:.1f}",
        f"{last_y:.1f}",
    )


@register.filter
def duration(value: Any) -> str:
    """A timedelta as "3 d 4 h", "5 h 12 min" or "40 min"; "—" when missing."""
    if value is None or value == "":
        return "—"
    seconds = int(value.total_seconds()) if hasattr(value, "total_seconds") else int(value)
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.filter
def when(value: Any, fmt: str = "Y-m-d H:i") -> str:
    """An instant in the active time zone (the client's on client pages and in reports) with
    the zone named: "2026-12-28 18:00 CST". "—" when missing."""
    if value is None or value == "":
        return "—"
    if not hasattr(value, "tzinfo") or timezone.is_naive(value):
        return dateformat.format(value, fmt)
    local = timezone.localtime(value)
    if fmt == "Y-m-d H:i":
        # The default format, written directly: a list page shows two times a row and
        # ``dateformat`` costs tens of microseconds for each.
        text = (
            f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}"
        )
    else:
        text = dateformat.format(local, fmt)
    return f"{text} {local.tzname()}"


@register.filter
def days_hours(value: Any) -> str:
    """A duration given as a timedelta or as hours (a number) in days and hours, like
    ``duration``: "2 d 4 h", "20 h", "35 min"; "—" when missing."""
    if hasattr(value, "total_seconds"):
        return duration(value)
    number = _number(value)
    if number is None:
        return "—"
    return duration(round(number * 3600))


@register.simple_tag
def elided_pages(page: Any) -> list[Any]:
    """Page numbers around ``page`` for the pagination bar (the paginator's ELLIPSIS marks a
    gap)."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))

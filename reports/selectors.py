"""Read side of the stored reports."""

from __future__ import annotations

from datetime import date

from .models import StoredReport

__all__ = ["latest_reports"]


def latest_reports(period: date, *, exclude_kinds: tuple[str, ...] = ()) -> list[StoredReport]:
    """The newest version of each report kind for ``period``."""
    seen: dict[str, StoredReport] = {}
    qs = StoredReport.objects.filter(period=period).exclude(kind__in=exclude_kinds)
    for report in qs.order_by("kind", "-version"):
        seen.setdefault(report.kind, report)
    return list(seen.values())

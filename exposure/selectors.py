"""Read side of exposure monitoring: the alert list and the month's figures of the report."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet

from common.periods import period_bounds
from tenants.tiers import tier_of

from .models import ExposureAlert, ExposureStep

__all__ = ["alerts", "monthly_section"]


def alerts() -> QuerySet[ExposureAlert]:
    """Every alert with its steps (one query each), newest first."""
    return ExposureAlert.objects.prefetch_related(
        Prefetch("steps", queryset=ExposureStep.objects.select_related("alert").order_by("pk"))
    ).order_by("-received_at", "-pk")


def monthly_section(client: Any, period: date) -> dict[str, Any]:
    """The report's exposure section: the alerts received in the month, their time to respond
    and whether every step met the tier's response time. Empty for a plan without monitoring."""
    tier = tier_of(client)
    if not tier.exposure_monitoring:
        return {"exposure": None}
    start, end = period_bounds(period, client.tz)
    rows = list(alerts().filter(received_at__gte=start, received_at__lt=end).reverse())
    met = sum(1 for a in rows if a.sla_met is True)
    late = sum(1 for a in rows if a.sla_met is False)
    times = [a.response_minutes for a in rows if a.response_minutes is not None]
    return {
        "exposure": {
            "alerts": rows,
            "count": len(rows),
            "duplicates": sum(a.duplicates for a in rows),
            "met": met,
            "missed": late,
            "open": len(rows) - met - late,
            "response_hours": tier.exposure_response_hours,
            "median_minutes": sorted(times)[len(times) // 2] if times else None,
        }
    }

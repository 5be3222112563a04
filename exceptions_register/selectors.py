"""Read side of the exception register."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from findings.models import Finding

from .choices import ExceptionKind, ExceptionState
from .models import RiskException

__all__ = [
    "active_exceptions_at",
    "covered_findings_at",
    "visible_exceptions",
    "awaiting_signature",
    "expiring_soon",
    "register_counts",
]


def active_exceptions_at(at: datetime) -> QuerySet[RiskException]:
    """Exceptions covering instant ``at``: active and ``starts_at <= at < expires_at``."""
    return RiskException.objects.filter(
        state=ExceptionState.ACTIVE, starts_at__lte=at, expires_at__gt=at
    )


def covered_findings_at(at: datetime) -> QuerySet[Finding]:
    """Findings an exception covers at ``at``: named findings of a deferral, or any finding on an
    asset a deferral names, or any finding on an isolated-lane asset. The compliance engine
    counts these as excepted; this is its single hook into the register."""
    active = active_exceptions_at(at)
    return Finding.objects.filter(
        Q(exceptions__in=active)
        | Q(
            asset__exceptions__in=active.filter(
                kind__in=[ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE]
            )
        )
    ).distinct()


EXPIRING_SOON_DAYS = 14


def visible_exceptions() -> QuerySet[RiskException]:
    """Every exception of the current client (the caller's VIEW capability is checked first)."""
    return RiskException.objects.select_related(
        "approver", "supersedes", "signature"
    ).prefetch_related("controls")


def awaiting_signature(user: Any) -> QuerySet[RiskException]:
    """Exceptions of the current client waiting for this owner's decision."""
    return visible_exceptions().filter(
        state=ExceptionState.PENDING_SIGNOFF, approver_id=getattr(user, "pk", None)
    )


def expiring_soon(
    *, at: datetime | None = None, days: int = EXPIRING_SOON_DAYS
) -> QuerySet[RiskException]:
    """Active exceptions whose hard expiry falls within the next ``days`` days."""
    at = at or timezone.now()
    return (
        active_exceptions_at(at)
        .filter(expires_at__lte=at + timedelta(days=days))
        .select_related("approver")
        .order_by("expires_at")
    )


def register_counts(at: datetime | None = None) -> dict[str, int]:
    """Headline numbers of the register at ``at``."""
    at = at or timezone.now()
    by_state = dict(RiskException.objects.values_list("state").annotate(n=Count("pk")).order_by())
    active = active_exceptions_at(at)
    return {
        "active": active.count(),
        "active_deferrals": active.filter(kind=ExceptionKind.DEFERRAL).count(),
        "active_isolated_lanes": active.filter(kind=ExceptionKind.ISOLATED_LANE).count(),
        "pending": by_state.get(ExceptionState.PENDING_SIGNOFF, 0),
        "expiring_soon": expiring_soon(at=at).count(),
        "covered_findings": covered_findings_at(at).count(),
    }

"""Read side of the exception register."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from patchops.models import Finding

from .choices import ExceptionKind, ExceptionState
from .models import RiskException

__all__ = ["active_exceptions_at", "covered_findings_at"]


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

"""Read side of the exception register."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DateTimeField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Greatest
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


# --- Exception cover of findings (the findings app reads it through findings.coverage) -------


def excepted_q(at: datetime) -> Q:
    """Finding is covered by an exception at ``at`` — the same rule as
    ``exceptions_register.selectors.covered_findings_at`` (a finding an active exception names,
    or any finding on an asset an active deferral or isolated lane names), written as two
    correlated ``EXISTS`` over the link tables so the planner probes an index per finding instead
    of materialising every finding. The active exception ids come first (one small query); with
    none active the condition is empty and costs nothing.
    """
    return excepted_by_q(active_exception_kinds(at))


def active_exception_kinds(at: datetime) -> tuple[tuple[int, str], ...]:
    """``(pk, kind)`` of the exceptions active at ``at`` (the one small query of
    ``excepted_q``)."""
    return tuple(active_exceptions_at(at).order_by("pk").values_list("pk", "kind"))


def excepted_by_q(active: tuple[tuple[int, str], ...]) -> Q:
    """``excepted_q`` for the active exceptions ``active_exception_kinds`` answered."""
    if not active:
        return Q(pk__in=[])
    ids = [pk for pk, _ in active]
    asset_kinds = (ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE)
    asset_ids = [pk for pk, kind in active if kind in asset_kinds]
    named = RiskException.findings.through.objects.filter(
        finding_id=OuterRef("pk"), riskexception_id__in=ids
    )
    on_asset = RiskException.assets.through.objects.filter(
        asset_id=OuterRef("asset_id"), riskexception_id__in=asset_ids
    )
    return Q(Exists(named)) | Q(Exists(on_asset))


def excepted_until(at: datetime) -> Any:
    """An annotation for findings: the hard expiry of the active exception covering the finding
    at ``at`` (the latest one when several do), ``NULL`` when none covers it. The same coverage
    rule as ``excepted_q``: a finding an active exception names, or any finding on an asset an
    active deferral or isolated lane names."""
    active = list(active_exceptions_at(at).values_list("pk", "kind"))
    if not active:
        return Value(None, output_field=DateTimeField())
    ids = [pk for pk, _ in active]
    asset_kinds = (ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE)
    asset_ids = [pk for pk, kind in active if kind in asset_kinds] or [0]
    named = (
        RiskException.findings.through.objects.filter(
            finding_id=OuterRef("pk"), riskexception_id__in=ids
        )
        .order_by("-riskexception__expires_at")
        .values("riskexception__expires_at")[:1]
    )
    on_asset = (
        RiskException.assets.through.objects.filter(
            asset_id=OuterRef("asset_id"), riskexception_id__in=asset_ids
        )
        .order_by("-riskexception__expires_at")
        .values("riskexception__expires_at")[:1]
    )
    return Greatest(
        Subquery(named, output_field=DateTimeField()),
        Subquery(on_asset, output_field=DateTimeField()),
    )


def covering_exceptions(findings: list[Finding], *, at: datetime) -> dict[int, Any]:
    """The active exception covering each finding at ``at`` (the one expiring last), by pk."""
    out: dict[int, Any] = {}
    active = list(active_exceptions_at(at).prefetch_related("findings", "assets"))
    for exception in sorted(active, key=lambda e: e.expires_at):
        named = {f.pk for f in exception.findings.all()}
        on_assets = (
            {a.pk for a in exception.assets.all()}
            if exception.kind in (ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE)
            else set()
        )
        for finding in findings:
            if finding.pk in named or finding.asset_id in on_assets:
                out[finding.pk] = exception
    return out

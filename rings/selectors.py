"""Read side of the rings app: visible querysets, membership exports and failure-rate metrics."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from inventory.models import Asset
from patchops.models import Finding

from .choices import DeploymentStatus
from .models import (
    DeploymentResult,
    MaintenanceWindow,
    Ring,
    RingMembership,
    Rollout,
    RunbookCheck,
    Wave,
)

__all__ = [
    "visible_rings",
    "ring_members",
    "visible_rollouts",
    "visible_windows",
    "visible_runbook_checks",
    "membership_csv",
    "deployment_counts",
    "failure_rate",
    "failure_rates_by_ring",
]

ATTEMPTED = (
    DeploymentStatus.DEPLOYED,
    DeploymentStatus.FAILED,
    DeploymentStatus.VERIFIED,
    DeploymentStatus.ROLLED_BACK,
)


# Within a client schema every role that may see the client sees its rings and rollouts; the
# permission layer has already answered 404/403 for principals that may not.
def visible_rings(principal: Any = None) -> QuerySet[Ring]:
    return Ring.objects.annotate(member_count=Count("memberships")).order_by("order")


def ring_members(ring: Ring) -> QuerySet[Asset]:
    return (
        Asset.objects.filter(ring_membership__ring=ring)
        .select_related("asset_class", "site", "ring_membership")
        .order_by("hostname")
    )


def visible_rollouts(principal: Any = None) -> QuerySet[Rollout]:
    waves = (
        Wave.objects.select_related("ring", "approval", "approval__approved_by")
        .annotate(
            **{
                f"n_{status}": Count("results", filter=Q(results__status=status))
                for status in DeploymentStatus.values
            }
        )
        .order_by("order")
    )
    findings = Finding.objects.only("id", "uuid")
    return Rollout.objects.prefetch_related(
        Prefetch("waves", queryset=waves), Prefetch("findings", queryset=findings)
    ).order_by("-created_at")


def visible_windows(principal: Any = None) -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.select_related("site", "asset_class").order_by("name")


def visible_runbook_checks(principal: Any = None) -> QuerySet[RunbookCheck]:
    return RunbookCheck.objects.order_by("order", "name")


def membership_csv(ring: Ring | None = None) -> str:
    """Ring membership as CSV: ring, hostname, asset id, OS family, role, class, pinned."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "ring",
            "hostname",
            "asset_id",
            "os_family",
            "role",
            "asset_class",
            "pinned",
            "assigned_at",
        ]
    )
    rows = RingMembership.objects.select_related("ring", "asset", "asset__asset_class")
    if ring is not None:
        rows = rows.filter(ring=ring)
    for m in rows.order_by("ring__order", "asset__hostname"):
        writer.writerow(
            [
                m.ring.key,
                m.asset.hostname,
                str(m.asset.uuid),
                m.asset.os_family,
                m.asset.role,
                m.asset.asset_class.key,
                "yes" if m.is_pinned else "no",
                m.assigned_at.isoformat(),
            ]
        )
    return buffer.getvalue()


def _results(period_start: datetime, period_end: datetime, ring: Ring | None = None):
    rows = DeploymentResult.objects.filter(
        status__in=ATTEMPTED, attempted_at__gte=period_start, attempted_at__lt=period_end
    )
    if ring is not None:
        rows = rows.filter(wave__ring=ring)
    return rows


def deployment_counts(
    period_start: datetime, period_end: datetime, *, ring: Ring | None = None
) -> tuple[int, int]:
    """(failed, attempted) deployment results attempted in [period_start, period_end).

    A result counts as attempted once a real (not dry-run) job reported it, whatever happened
    after (verified and rolled-back results were attempted too).
    """
    counts = _results(period_start, period_end, ring).aggregate(
        attempted=Count("id"), failed=Count("id", filter=Q(status=DeploymentStatus.FAILED))
    )
    return counts["failed"], counts["attempted"]


def failure_rate(
    ring: Ring | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> Decimal | None:
    """Failed ÷ attempted in percent for one ring (or all), None when nothing was attempted."""
    if period_start is None or period_end is None:
        raise ValueError("failure_rate needs period_start and period_end.")
    failed, attempted = deployment_counts(period_start, period_end, ring=ring)
    if not attempted:
        return None
    return (Decimal(failed) * 100 / attempted).quantize(Decimal("0.01"))


def failure_rates_by_ring(period_start: datetime, period_end: datetime) -> list[dict[str, Any]]:
    rates = []
    for ring in Ring.objects.order_by("order"):
        failed, attempted = deployment_counts(period_start, period_end, ring=ring)
        rates.append(
            {
                "ring": ring,
                "failed": failed,
                "attempted": attempted,
                "rate": failure_rate(ring, period_start, period_end),
            }
        )
    return rates

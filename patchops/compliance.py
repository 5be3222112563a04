"""The compliance engine: the numbers of DESIGN "Definitions", computed set-based in SQL.

Every figure is a fixed number of aggregate queries over the current client's schema, whatever
its size; nothing loops over assets or findings in Python. Run inside the client's schema.

Terms used below (all evaluated at the instant ``at``):

* **In scope**: a managed asset (``is_managed``) that is not stale (``is_stale`` false). Unknown
  devices from scans and assets no longer seen are out of scope.
* **Outstanding at t**: detected at or before t, not verified by t (``verified_at`` null or
  after t) and not "not applicable". (So past instants are recomputed exactly.)
* **Overdue at t**: outstanding and ``due_at < t`` (at ``due_at`` itself a finding is on time).
* **Excepted at t**: covered by an active exception, ``starts_at <= t < expires_at``
  (``exceptions_register.selectors.covered_findings_at``): coverage ends at the expiry instant.
* **Compliance % (point in time)** of a group = in-scope assets of the group with no overdue,
  un-excepted finding ÷ in-scope assets of the group. Groups: the client, each OS family, each
  asset class, and each tier (for a tier the denominator is every in-scope asset and the numerator
  those with no overdue, un-excepted finding *of that tier*). ``None`` when the group is empty.
* **SLA attainment % (period)** = findings due in ``[start, end)`` and verified at or before their
  ``due_at`` ÷ findings due in ``[start, end)`` (not-applicable findings excluded).
* **Time to remediate** by tier = median and 90th percentile (``percentile_cont``) of
  ``verified_at − detected_at`` over findings verified in the period.
* **Exception aging**: per active exception, days since ``starts_at`` and days left to
  ``expires_at``; the engine reports the count, the oldest aging and the soonest expiry.
* **Patch failure rate** = failed deployment results ÷ attempted in the period
  (``deployment_counts``; zero attempts → ``None``).
* **After-hours patch tickets**: PSA tickets about patching created in the period outside the
  client's business hours in its time zone; weekends (Saturday, Sunday) count as outside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
)

from exceptions_register.choices import ExceptionKind
from exceptions_register.models import RiskException
from exceptions_register.selectors import active_exceptions_at
from integrations.choices import TicketCategory
from integrations.models import PsaTicket
from inventory.choices import OsFamily
from inventory.models import Asset, AssetClass
from rings import selectors as ring_selectors
from rings.choices import DeploymentStatus
from rings.models import DeploymentResult, Ring
from tenants.models import Client

from .choices import FindingState, SeverityTier
from .models import Finding

__all__ = [
    "REPORTED_TIERS",
    "Ratio",
    "ComplianceFigures",
    "in_scope_assets",
    "outstanding_at",
    "overdue_unexcepted_at",
    "compliance_at",
    "period_figures",
    "sla_attainment",
    "time_to_remediate",
    "exception_figures",
    "deployment_counts",
    "after_hours_tickets",
    "compute",
]

REPORTED_TIERS = [
    SeverityTier.CRITICAL,
    SeverityTier.HIGH,
    SeverityTier.MEDIUM,
    SeverityTier.LOW,
]
_HUNDRED = Decimal(100)


def pct(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * _HUNDRED / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def pct(self) -> Decimal | None:
        return pct(self.numerator, self.denominator)

    def as_dict(self, num: str = "compliant", den: str = "in_scope") -> dict[str, Any]:
        value = self.pct
        return {
            num: self.numerator,
            den: self.denominator,
            "pct": float(value) if value is not None else None,
        }


class PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


# --- building blocks --------------------------------------------------------------------------


def in_scope_assets() -> QuerySet[Asset]:
    """Managed, not stale."""
    return Asset.objects.filter(is_managed=True, is_stale=False)


def outstanding_at(at: datetime) -> QuerySet[Finding]:
    return Finding.objects.filter(
        Q(verified_at__isnull=True) | Q(verified_at__gt=at), detected_at__lte=at
    ).exclude(state=FindingState.NOT_APPLICABLE)


def overdue_unexcepted_at(at: datetime, *, excepted: Q | None = None) -> QuerySet[Finding]:
    """Outstanding, past ``due_at`` and not covered by an active exception at ``at``."""
    excepted = excepted_q(at) if excepted is None else excepted
    return outstanding_at(at).filter(due_at__lt=at).exclude(excepted)


def excepted_q(at: datetime) -> Q:
    """Finding is covered by an exception at ``at`` — the same rule as
    ``exceptions_register.selectors.covered_findings_at`` (a finding an active exception names,
    or any finding on an asset an active deferral or isolated lane names), written as two
    correlated ``EXISTS`` over the link tables so the planner probes an index per finding instead
    of materialising every finding. The active exception ids come first (one small query); with
    none active the condition is empty and costs nothing.
    """
    active = list(active_exceptions_at(at).values_list("pk", "kind"))
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


@dataclass
class ComplianceBreakdown:
    client: Ratio
    by_tier: dict[str, Ratio]
    by_os_family: dict[str, Ratio]
    by_asset_class: dict[str, Ratio]


ALL_TIERS = [*REPORTED_TIERS, SeverityTier.UNKNOWN]


def compliance_at(at: datetime) -> ComplianceBreakdown:
    """Compliance % by client, tier, OS family and asset class in ONE grouped statement.

    The overdue, un-excepted findings (the ORM queryset ``overdue_unexcepted_at``, compiled to
    SQL) are folded per asset into one flag per tier, left-joined to the in-scope assets and
    grouped by (OS family, asset class) — a handful of rows, never one per asset — which are
    summed into the client, OS, class and tier figures.
    """
    overdue = (
        overdue_unexcepted_at(at, excepted=excepted_q(at)).order_by().values("asset_id", "tier")
    )
    bad_sql, bad_params = overdue.query.sql_with_params()
    tier_flags = ", ".join(f"bool_or(b.tier = %s) AS bad_{i}" for i in range(len(ALL_TIERS)))
    tier_counts = ", ".join(f"count(*) FILTER (WHERE bad.bad_{i})" for i in range(len(ALL_TIERS)))
    scope_sql, scope_params = (
        in_scope_assets()
        .order_by()
        .values("pk", "os_family", "asset_class__key")
        .query.sql_with_params()
    )
    sql = (
        f"WITH bad AS (SELECT b.asset_id, {tier_flags}"
        f" FROM ({bad_sql}) b (asset_id, tier) GROUP BY b.asset_id),"
        f" scope (id, os_family, class_key) AS ({scope_sql})"
        " SELECT scope.os_family, scope.class_key, count(*),"
        f" count(*) FILTER (WHERE bad.asset_id IS NULL), {tier_counts}"
        " FROM scope LEFT JOIN bad ON bad.asset_id = scope.id GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ALL_TIERS, *bad_params, *scope_params])
        rows = cursor.fetchall()
    total = ok = 0
    by_os: dict[str, list[int]] = {}
    by_class: dict[str, list[int]] = {}
    bad_by_tier = dict.fromkeys(ALL_TIERS, 0)
    for os_family, class_key, n, n_ok, *n_bad in rows:  # one row per (OS, class) pair
        total += n
        ok += n_ok
        for tier, count in zip(ALL_TIERS, n_bad, strict=True):
            bad_by_tier[tier] += count
        for bucket, key in ((by_os, os_family), (by_class, class_key)):
            cell = bucket.setdefault(key, [0, 0])
            cell[0] += n_ok
            cell[1] += n
    return ComplianceBreakdown(
        client=Ratio(ok, total),
        by_tier={t: Ratio(total - bad_by_tier[t], total) for t in ALL_TIERS},
        by_os_family={
            k: Ratio(*by_os[k])
            for k in sorted(
                by_os, key=lambda k: OsFamily.values.index(k) if k in OsFamily.values else 99
            )
        },
        by_asset_class={k: Ratio(*by_class[k]) for k in sorted(by_class)},
    )


def period_figures(
    start: datetime, end: datetime
) -> tuple[Ratio, dict[str, Ratio], dict[str, dict[str, Any]]]:
    """SLA attainment and time to remediate for [start, end) in ONE pass over the findings.

    * SLA attainment: findings due in the period (not "not applicable") verified at or before
      their due time ÷ findings due in the period.
    * Time to remediate: median and p90 (``percentile_cont``) of ``verified_at − detected_at``
      over findings verified in the period, per tier.
    """
    due_q = Q(due_at__gte=start, due_at__lt=end) & ~Q(state=FindingState.NOT_APPLICABLE)
    verified_q = Q(verified_at__gte=start, verified_at__lt=end)
    duration = ExpressionWrapper(F("verified_at") - F("detected_at"), output_field=DurationField())
    rows = (
        Finding.objects.filter(Q(due_at__gte=start, due_at__lt=end) | verified_q)
        .values("tier")
        .annotate(
            due=Count("pk", filter=due_q),
            met=Count("pk", filter=due_q & Q(verified_at__lte=F("due_at"))),
            n=Count("pk", filter=verified_q),
            median=PercentileCont(duration, 0.5, filter=verified_q, output_field=DurationField()),
            p90=PercentileCont(duration, 0.9, filter=verified_q, output_field=DurationField()),
        )
        .order_by()
    )
    by_tier: dict[str, Ratio] = {}
    ttr: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["due"]:
            by_tier[r["tier"]] = Ratio(r["met"], r["due"])
        if r["n"]:
            ttr[r["tier"]] = {"count": r["n"], "median": r["median"], "p90": r["p90"]}
    overall = Ratio(
        sum(r.numerator for r in by_tier.values()), sum(r.denominator for r in by_tier.values())
    )
    return overall, by_tier, ttr


def sla_attainment(start: datetime, end: datetime) -> tuple[Ratio, dict[str, Ratio]]:
    """Findings due in [start, end) verified by their due time ÷ findings due in [start, end)."""
    overall, by_tier, _ = period_figures(start, end)
    return overall, by_tier


def time_to_remediate(start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """Median and p90 of verified_at − detected_at per tier, for findings verified in the period."""
    return period_figures(start, end)[2]


@dataclass
class ExceptionFigures:
    active: int
    covered_findings: int
    max_aging_days: int | None
    min_days_left: int | None


def exception_figures(at: datetime) -> ExceptionFigures:
    agg = active_exceptions_at(at).aggregate(
        n=Count("pk"), oldest=Min("starts_at"), soonest=Min("expires_at")
    )
    covered = outstanding_at(at).filter(excepted_q(at)).count() if agg["n"] else 0
    return ExceptionFigures(
        active=agg["n"],
        covered_findings=covered,
        max_aging_days=(at - agg["oldest"]).days if agg["oldest"] else None,
        min_days_left=(agg["soonest"] - at).days if agg["soonest"] else None,
    )


PATCH_TICKET_CATEGORIES = (
    TicketCategory.PATCHING,
    TicketCategory.BREACH,
    TicketCategory.RUNBOOK,
)


def deployment_counts(start: datetime, end: datetime) -> tuple[int, int]:
    """(failed, attempted) deployment results attempted in [start, end), all rings
    (``rings.selectors.deployment_counts``: dry runs never count)."""
    return ring_selectors.deployment_counts(start, end)


def failure_rates_by_ring(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Patch failure rate per ring for [start, end), in ring order (one query):
    ``[{"ring": key, "name", "failed", "attempted", "pct"}]``, ``pct`` None when none attempted."""
    counts = {
        row["wave__ring_id"]: row
        for row in DeploymentResult.objects.filter(
            status__in=ring_selectors.ATTEMPTED, attempted_at__gte=start, attempted_at__lt=end
        )
        .values("wave__ring_id")
        .annotate(
            attempted=Count("pk"), failed=Count("pk", filter=Q(status=DeploymentStatus.FAILED))
        )
    }
    out = []
    for ring in Ring.objects.order_by("order").only("pk", "key", "name"):
        row = counts.get(ring.pk, {"failed": 0, "attempted": 0})
        out.append(
            {
                "ring": ring.key,
                "name": ring.name,
                "failed": row["failed"],
                "attempted": row["attempted"],
                "pct": pct(row["failed"], row["attempted"]),
            }
        )
    return out


def after_hours_tickets(client: Client, start: datetime, end: datetime) -> int:
    """PSA tickets about patching (patching, failure-rate breach, failed runbook check) created
    in [start, end) outside the client's business hours: ``integrations.PsaTicket.is_after_hours``,
    set in the client's time zone when the ticket was opened."""
    return PsaTicket.objects.filter(
        created_at__gte=start,
        created_at__lt=end,
        category__in=PATCH_TICKET_CATEGORIES,
        is_after_hours=True,
    ).count()


# --- one client, all figures ----------------------------------------------------------------


@dataclass
class ComplianceFigures:
    at: datetime
    period_start: datetime
    compliance: ComplianceBreakdown
    sla_attainment: Ratio
    sla_attainment_by_tier: dict[str, Ratio]
    time_to_remediate: dict[str, dict[str, Any]]
    exceptions: ExceptionFigures
    deployments_failed: int
    deployments_attempted: int
    after_hours_tickets: int
    open_findings: int = 0
    open_critical: int = 0
    overdue_findings: int = 0
    kev_open: int = 0
    ephi_assets: int = 0
    do_not_disrupt_assets: int = 0
    failure_rate_by_ring: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def patch_failure_rate(self) -> Decimal | None:
        return pct(self.deployments_failed, self.deployments_attempted)

    def as_dict(self) -> dict[str, Any]:
        def ratios(d: dict[str, Ratio], num: str = "compliant", den: str = "in_scope") -> dict:
            return {k: v.as_dict(num, den) for k, v in d.items()}

        ttr = {
            tier: {
                "count": v["count"],
                "median_hours": _hours(v["median"]),
                "p90_hours": _hours(v["p90"]),
            }
            for tier, v in self.time_to_remediate.items()
        }
        rate = self.patch_failure_rate
        return {
            "at": self.at.isoformat(),
            "period_start": self.period_start.isoformat(),
            "compliance": self.compliance.client.as_dict(),
            "by_tier": ratios(self.compliance.by_tier),
            "by_os_family": ratios(self.compliance.by_os_family),
            "by_asset_class": ratios(self.compliance.by_asset_class),
            "sla_attainment": self.sla_attainment.as_dict("verified_in_time", "due"),
            "sla_attainment_by_tier": ratios(
                self.sla_attainment_by_tier, "verified_in_time", "due"
            ),
            "time_to_remediate": ttr,
            "exceptions": asdict(self.exceptions),
            "patch_failure_rate": {
                "failed": self.deployments_failed,
                "attempted": self.deployments_attempted,
                "pct": float(rate) if rate is not None else None,
                "by_ring": [
                    {**r, "pct": float(r["pct"]) if r["pct"] is not None else None}
                    for r in self.failure_rate_by_ring
                ],
            },
            "after_hours_tickets": self.after_hours_tickets,
            "open_findings": self.open_findings,
            "open_critical": self.open_critical,
            "overdue_findings": self.overdue_findings,
            "kev_open": self.kev_open,
            "ephi_assets": self.ephi_assets,
        }


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 2) if value is not None else None


def compute(*, client: Client, at: datetime, period_days: int = 30) -> ComplianceFigures:
    """All figures for the current client's schema at ``at`` over the last ``period_days``.

    A fixed number of queries (about ten) whatever the size of the client.
    """
    start = at - timedelta(days=period_days)
    attainment, attainment_by_tier, ttr = period_figures(start, at)
    failed, attempted = deployment_counts(start, at)
    counts = (
        outstanding_at(at)
        .filter(asset__in=in_scope_assets())
        .aggregate(
            open=Count("pk"),
            critical=Count("pk", filter=Q(tier=SeverityTier.CRITICAL)),
            kev=Count("pk", filter=Q(is_kev=True)),
            overdue=Count("pk", filter=Q(due_at__lt=at)),
        )
    )
    assets = in_scope_assets().aggregate(
        ephi=Count("pk", filter=Q(is_ephi=True)),
        dnd=Count("pk", filter=Q(asset_class__key=AssetClass.DO_NOT_DISRUPT)),
    )
    return ComplianceFigures(
        at=at,
        period_start=start,
        compliance=compliance_at(at),
        sla_attainment=attainment,
        sla_attainment_by_tier=attainment_by_tier,
        time_to_remediate=ttr,
        exceptions=exception_figures(at),
        deployments_failed=failed,
        deployments_attempted=attempted,
        failure_rate_by_ring=failure_rates_by_ring(start, at),
        after_hours_tickets=after_hours_tickets(client, start, at),
        open_findings=counts["open"],
        open_critical=counts["critical"],
        overdue_findings=counts["overdue"],
        kev_open=counts["kev"],
        ephi_assets=assets["ephi"],
        do_not_disrupt_assets=assets["dnd"],
    )


def raw_compliance_sql() -> str:
    """One plain SQL aggregate of the client compliance % (the benchmark's reference)."""
    return (
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS ("
        " SELECT 1 FROM patchops_finding f WHERE f.asset_id = a.id AND f.detected_at <= %s"
        " AND (f.verified_at IS NULL OR f.verified_at > %s) AND f.state <> 'not_applicable'"
        " AND f.due_at < %s)) FROM inventory_asset a WHERE a.is_managed AND NOT a.is_stale"
    )


def run_raw_compliance(at: datetime) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(raw_compliance_sql(), [at, at, at])
        total, ok = cursor.fetchone()
    return ok, total

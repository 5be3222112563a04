"""The report builders: monthly compliance, HIPAA evidence pack, QBR summary, exception register.

Every figure comes from the compliance engine (``compliance.engine``) or the selectors the
pages use; a builder only picks the instant and the period and arranges the result for print.

* **Period** = the calendar month in the client's time zone (``period_bounds``).
* **As of** = the end of the period, or now while the month is still running: point-in-time
  figures (compliance %, active exceptions, the prioritization log) are taken at that instant,
  period figures (SLA attainment, time to remediate, failure rate) over ``[start, as of)``.

The exception register's "Export PDF" action (``/clients/<slug>/exceptions/export.pdf``, POST)
does not render in the request: it queues the ``exceptions`` report of the current month like
any on-demand report, so the register PDF is stored, immutable, hashed and listed with the other
reports (and produced monthly and bundled with them). Client users read and download it there;
MSP staff queue it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from common.choices import OsFamily
from common.periods import format_period, period_bounds
from compliance import engine
from evidence.selectors import verify_chain
from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.selectors import active_exceptions_at, register_counts
from exposure.selectors import monthly_section
from findings.choices import SeverityTier, TriageKind, TriageState
from findings.models import Finding, FindingTriage
from findings.risk import TIER_RANK
from findings.selectors import (
    PRIORITY_ORDER,
    TIER_ORDER,
    explain_positions,
    with_exception_cover,
)
from inventory.models import AssetClass
from rings.selectors import restore_test_rows, rollout_rows

from . import charts
from .models import ReportKind
from .services import (
    ReportNotAvailable,
    base_context,
    ephi_inventory_context,
    evidence_chain_context,
    register,
)

__all__ = [
    "as_of",
    "quarter_bounds",
    "trend_instants",
    "quarter_trend",
    "PRIORITIZATION_LIMIT",
    "RatioRow",
    "compliance_rows",
    "remediated_in_period",
    "exception_rows",
    "prioritization_log_context",
    "controls_register_context",
    "rollouts_context",
    "monthly_compliance",
    "hipaa_evidence_pack",
    "qbr_summary",
    "exception_register",
]

# The printed prioritization log lists at most this many findings (the CSV has all of them).
PRIORITIZATION_LIMIT = 1000
TOP_RISKS = 10
# Reports list at most this many not-reporting assets (oldest report first); the count is exact.
NOT_REPORTING_LIMIT = 200


def as_of(client: Any, period: date) -> tuple[datetime, datetime, datetime]:
    """(start, end, at): the month's bounds and the instant its point-in-time figures use."""
    start, end = period_bounds(period, client.tz)
    return start, end, min(end, timezone.now())


def quarter_bounds(client: Any, period: date) -> tuple[datetime, datetime, datetime]:
    """(start, end, at) of the QBR quarter: the three calendar months ending with ``period``
    (a calendar quarter when ``period`` is March, June, September or December)."""
    first = date(period.year - (period.month <= 2), (period.month - 3) % 12 + 1, 1)
    start, _ = period_bounds(first, client.tz)
    _, end = period_bounds(period, client.tz)
    return start, end, min(end, timezone.now())


def _period_context(
    client: Any,
    period: date,
    title: str,
    *,
    bounds: tuple[datetime, datetime, datetime] | None = None,
) -> dict[str, Any]:
    start, end, at = bounds or as_of(client, period)
    context = base_context(client, period, title)
    local_at = at.astimezone(client.tz)
    context |= {
        "as_of": at,
        # Preformatted: the instant in the client's zone, named.
        "as_of_label": f"{local_at:%Y-%m-%d %H:%M} {client.timezone}",
        "period_complete": at == end,
        "window_start": start,
    }
    return context


@dataclass(frozen=True)
class RatioRow:
    key: str
    label: str
    numerator: int
    denominator: int
    pct: Decimal | None
    not_reporting: int = 0


def _rows(ratios: dict[str, engine.Ratio], labels: dict[str, str]) -> list[RatioRow]:
    return [
        RatioRow(k, labels.get(k, k), r.numerator, r.denominator, r.pct, r.not_reporting)
        for k, r in ratios.items()
    ]


TIER_LABELS = dict(SeverityTier.choices)


def compliance_rows(breakdown: engine.ComplianceBreakdown) -> dict[str, Any]:
    """The engine's breakdown as printable rows: by tier, by OS family, by asset class."""
    tiers = {t: breakdown.by_tier[t] for t in engine.REPORTED_TIERS}
    unknown = breakdown.by_tier.get(SeverityTier.UNKNOWN)
    # Findings without a vendor severity only get a row when one of them counts against.
    if unknown is not None and unknown.numerator != unknown.denominator - unknown.not_reporting:
        tiers[SeverityTier.UNKNOWN] = unknown
    class_names = dict(AssetClass.objects.values_list("key", "name"))
    by_os = _rows(breakdown.by_os_family, dict(OsFamily.choices))
    by_class = _rows(breakdown.by_asset_class, class_names)
    by_tier = _rows(tiers, TIER_LABELS)

    def chart(rows: list[RatioRow], title: str) -> str:
        return charts.bar_chart(
            [(r.label, float(r.pct)) for r in rows if r.pct is not None],
            title=title,
            max_value=100,
            unit=" %",
        )

    return {
        "compliance_client": breakdown.client,
        "not_reporting_count": breakdown.not_reporting,
        "outside_patch_scope": breakdown.outside_patch_scope,
        "staleness_days": breakdown.staleness_window.days,
        "compliance_by_tier": by_tier,
        "compliance_by_os": by_os,
        "compliance_by_class": by_class,
        "chart_by_os": chart(by_os, "Compliance % by OS family"),
        "chart_by_tier": chart(by_tier, "Compliance % by tier"),
    }


def _tier_sorted(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(mapping.items(), key=lambda kv: TIER_RANK.get(kv[0], 9))


def _hours(value: timedelta | None) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.total_seconds()) / Decimal(3600)).quantize(Decimal("0.01"))


def remediated_in_period(start: datetime, end: datetime) -> QuerySet[Finding]:
    """Findings verified in [start, end), riskiest first (tier, then risk score)."""
    return (
        Finding.objects.filter(verified_at__gte=start, verified_at__lt=end)
        .select_related("asset", "asset__asset_class")
        .annotate(tier_rank=TIER_ORDER)
        .order_by("tier_rank", "-risk_score", "verified_at", "pk")
    )


def exception_rows(exceptions: Any, at: datetime) -> list[dict[str, Any]]:
    """Register rows with aging, days left and duration from the model's own methods."""
    rows = []
    for e in exceptions:
        signature = getattr(e, "signature", None)
        covering = e.covers_at(at)
        rows.append(
            {
                "exception": e,
                "covering": covering,
                "state_label": _state_at(e, at, covering),
                "assets": sorted(a.hostname for a in e.assets.all()),
                "findings": sorted(f.patch_identifier for f in e.findings.all()),
                "controls": list(e.controls.all()),
                "signature": signature if signature and signature.decision == "signed" else None,
                "aging_days": e.aging_days(at=at) if covering else None,
                "days_left": e.days_left(at=at) if covering else None,
                "duration_days": e.duration_days(),
            }
        )
    return rows


def _state_at(e: RiskException, at: datetime, covering: bool) -> str:
    """The exception's state at ``at`` (a report of a past month shows it as it was then)."""
    if covering:
        return ExceptionState.ACTIVE.label
    if e.starts_at is not None and e.starts_at > at:
        return ExceptionState.PENDING_SIGNOFF.label
    if e.starts_at is not None and (e.ended_at is None or e.ended_at > at) and at >= e.expires_at:
        return ExceptionState.EXPIRED.label
    return e.get_state_display()


def _exceptions_qs() -> QuerySet[RiskException]:
    return RiskException.objects.select_related("approver", "signature").prefetch_related(
        "controls", "assets", "findings"
    )


def rollouts_context(start: datetime, at: datetime) -> dict[str, Any]:
    """The rollouts under way in [start, at) as they stood at ``at``: waves (skipped ones
    shown as skipped), rollbacks, resumes and the emergency-lane mark."""
    rows = rollout_rows(start, at)
    return {
        "rollout_rows": rows,
        "rollouts_expedited": sum(1 for r in rows if r["expedited"]),
    }


def _failure_context(figures: engine.ComplianceFigures) -> dict[str, Any]:
    ring_rows = [
        {"ring": row["name"], "failed": row["failed"], "attempted": row["attempted"],
         "pct": row["pct"]}
        for row in figures.failure_rate_by_ring
    ]  # fmt: skip
    return {
        "deployments_failed": figures.deployments_failed,
        "deployments_attempted": figures.deployments_attempted,
        "failure_rate": figures.patch_failure_rate,
        "failure_by_ring": ring_rows,
    }


def _report_figures(client: Any, start: datetime, at: datetime) -> engine.ComplianceFigures:
    """THE engine call of a report: every figure it prints comes from this one result."""
    return engine.compute(
        client=client, at=at, start=start, not_reporting_limit=NOT_REPORTING_LIMIT
    )


def _ttr_rows(figures: engine.ComplianceFigures) -> list[dict[str, Any]]:
    return [
        {
            "tier": TIER_LABELS.get(t, t),
            "count": v["count"],
            "median": v["median"],
            "p90": v["p90"],
            "median_hours": _hours(v["median"]),
            "p90_hours": _hours(v["p90"]),
        }
        for t, v in _tier_sorted(figures.time_to_remediate)
    ]


def _reporting_context(figures: engine.ComplianceFigures) -> dict[str, Any]:
    return {
        "not_reporting_assets": figures.not_reporting_assets,
        "not_reporting_count": figures.not_reporting,
        "not_reporting_truncated": figures.not_reporting > len(figures.not_reporting_assets),
    }


# --- monthly compliance report --------------------------------------------------------------


@register(ReportKind.MONTHLY)
def monthly_compliance(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    context = _period_context(client, period, "Monthly compliance report")
    start, at = context["window_start"], context["as_of"]
    figures = _report_figures(client, start, at)
    active = _exceptions_qs().filter(pk__in=active_exceptions_at(at).values("pk"))
    top = list(remediated_in_period(start, at)[:TOP_RISKS])
    context |= compliance_rows(figures.compliance)
    context |= _failure_context(figures)
    # The client-level failure-rate threshold of the SLA policy, for the account manager.
    context["widen_windows"] = engine.widen_windows_recommendation(
        figures.deployments_failed, figures.deployments_attempted
    )
    context |= _reporting_context(figures)
    context |= rollouts_context(start, at)
    context |= {
        "figures": figures,
        "sla": figures.sla_attainment,
        "sla_by_tier": [
            (TIER_LABELS.get(t, t), r) for t, r in _tier_sorted(figures.sla_attainment_by_tier)
        ],
        "ttr_rows": _ttr_rows(figures),
        "exception_figures": figures.exceptions,
        "active_exception_rows": exception_rows(active.order_by("expires_at", "pk"), at),
        "top_remediated": top,
        "remediated_count": remediated_in_period(start, at).count(),
        **triaged_context(start, at),
    }
    context |= monthly_section(client, period)
    return "reports/pdf/monthly.html", context


TRIAGED_LISTED = 50


def triaged_context(start: datetime, end: datetime) -> dict[str, Any]:
    """Findings closed as not applicable or false positive (approved) in [start, end): how many
    of each kind, and the first of them with reason, requester and approver."""
    approved = FindingTriage.objects.filter(
        state=TriageState.APPROVED, decided_at__gte=start, decided_at__lt=end
    )
    counts = dict(approved.values_list("kind").annotate(n=Count("pk")).order_by())
    return {
        "triage_counts": [(label, counts[k]) for k, label in TriageKind.choices if k in counts],
        "triaged": list(
            approved.select_related("finding", "finding__asset").order_by("decided_at", "pk")[
                :TRIAGED_LISTED
            ]
        ),
    }


# --- HIPAA-aligned evidence pack ------------------------------------------------------------


def prioritization_log_context(at: datetime, *, limit: int = PRIORITIZATION_LIMIT) -> dict:
    """The risk-based prioritization log as it stood at ``at``: findings outstanding then, in
    the order of the portal's log (uncovered work first and excepted findings after it; each
    by tier, risk score, due time) with the reason for each."""
    qs = (
        with_exception_cover(engine.outstanding_at(at), at)
        .select_related("asset", "asset__asset_class")
        .annotate(tier_rank=TIER_ORDER)
        .order_by(*PRIORITY_ORDER)
    )
    total = qs.count()
    entries = explain_positions(list(qs[:limit]), at=at)
    return {
        "priority_entries": entries,
        "priority_total": total,
        "priority_shown": len(entries),
        "priority_truncated": total > len(entries),
    }


def controls_register_context(start: datetime, end: datetime, at: datetime) -> dict[str, Any]:
    """Exceptions that were in force at some instant of [start, end): signed, started before
    the end, and neither expired nor ended before the start; with controls and signature."""
    qs = (
        _exceptions_qs()
        .filter(starts_at__isnull=False, starts_at__lt=end, expires_at__gt=start)
        .exclude(ended_at__lte=start)
        .exclude(state__in=[ExceptionState.DRAFT, ExceptionState.PENDING_SIGNOFF])
        .order_by("starts_at", "pk")
    )
    rows = exception_rows(qs, at)
    return {
        "controls_rows": rows,
        "controls_count": len(rows),
        "controls_active_at_end": sum(1 for r in rows if r["covering"]),
    }


@register(ReportKind.HIPAA)
def hipaa_evidence_pack(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    if not getattr(client, "is_hipaa", False):
        raise ReportNotAvailable(
            f"The HIPAA-aligned evidence pack is only produced for HIPAA-regulated clients; "
            f"{client.name} is not marked as HIPAA-regulated."
        )
    context = _period_context(client, period, "HIPAA-aligned evidence pack")
    start, end, at = as_of(client, period)
    figures = _report_figures(client, start, at)
    context |= ephi_inventory_context()
    context |= prioritization_log_context(at)
    context |= evidence_chain_context(client, period, at=at)
    context |= controls_register_context(start, end, at)
    context |= rollouts_context(start, at)
    context |= {"restore_test_rows": restore_test_rows(start, at)}
    status = verify_chain()
    context |= {
        "figures": figures,
        "chain_status": status,
        "in_scope_assets": figures.in_scope,
        "not_reporting_count": figures.not_reporting,
    }
    return "reports/pdf/hipaa.html", context


# --- QBR executive summary ------------------------------------------------------------------


def trend_instants(start: datetime, at: datetime, tz: Any) -> list[datetime]:
    """The QBR trend's instants: the end of each week (Sunday 24:00 in the client's zone)
    inside the quarter, then ``at`` itself (the headline's instant)."""
    local = start.astimezone(tz)
    days_to_monday = (7 - local.weekday()) % 7 or 7
    point = datetime.combine(
        (local + timedelta(days=days_to_monday)).date(), datetime.min.time(), tzinfo=tz
    )
    out: list[datetime] = []
    while point < at:
        out.append(point)
        point = datetime.combine((point + timedelta(days=7)).date(), datetime.min.time(), tzinfo=tz)
    return [*out, at]


def quarter_trend(
    client: Any, start: datetime, at: datetime, headline: engine.ComplianceBreakdown
) -> list[tuple[datetime, engine.Ratio]]:
    """Compliance % at each trend instant, from the engine; the last point IS the headline."""
    instants = trend_instants(start, at, client.tz)
    window = headline.staleness_window
    points = [(t, engine.compliance_at(t, window=window).client) for t in instants[:-1]]
    return [*points, (at, headline.client)]


def _plain_risks(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Verified findings of the period grouped by tier and OS family, in plain language."""
    os_names = dict(OsFamily.choices)
    groups = (
        remediated_in_period(start, end)
        .values("tier", "asset__os_family")
        .annotate(
            n=Count("pk"),
            systems=Count("asset", distinct=True),
            ephi=Count("asset", distinct=True, filter=Q(asset__is_ephi=True)),
            kev=Count("pk", filter=Q(is_kev=True)),
            top=Max("risk_score"),
        )
        .order_by()
    )
    lines = []
    for g in sorted(groups, key=lambda g: (TIER_RANK.get(g["tier"], 9), -g["top"])):
        n, systems, ephi = g["n"], g["systems"], g["ephi"]
        what = f"{n} {g['tier']} {os_names.get(g['asset__os_family'], 'other')} update"
        what += "s" if n != 1 else ""
        if ephi == systems:
            where = f"{systems} ePHI system{'s' if systems != 1 else ''}"
        else:
            where = f"{systems} system{'s' if systems != 1 else ''}"
            if ephi:
                where += f" ({ephi} of them ePHI system{'s' if ephi != 1 else ''})"
        sentence = f"{what} closed on {where}"
        if g["kev"]:
            sentence += f"; {g['kev']} fixed a flaw attackers are known to exploit (CISA KEV)"
        lines.append({"sentence": sentence + ".", "tier": g["tier"], **g})
    return lines


@register(ReportKind.QBR)
def qbr_summary(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    """The quarter of three months ending with ``period``: score and its weekly trend over the
    quarter, SLA attainment and risks reduced over the quarter, exceptions at its end."""
    bounds = quarter_bounds(client, period)
    context = _period_context(client, period, "QBR executive summary", bounds=bounds)
    start, at = context["window_start"], context["as_of"]
    figures = _report_figures(client, start, at)
    breakdown = figures.compliance
    trend = quarter_trend(client, start, at, breakdown)
    known = [(t, r) for t, r in trend if r.pct is not None]
    first = known[0] if known else None
    change = (
        breakdown.client.pct - first[1].pct
        if first is not None and breakdown.client.pct is not None and len(known) > 1
        else None
    )
    active = _exceptions_qs().filter(pk__in=active_exceptions_at(at).values("pk"))
    first_month = start.astimezone(client.tz).date()
    # A calendar quarter has its name; three other consecutive months are named by their months.
    quarter_label = f"Q{(period.month - 1) // 3 + 1} {period.year}" if period.month % 3 == 0 else ""
    context |= compliance_rows(breakdown)
    context |= _reporting_context(figures)
    context |= rollouts_context(start, at)
    context |= {
        "period_label": f"{format_period(first_month)} – {format_period(period)}",
        "period_start": start,
        "quarter_label": quarter_label,
        "quarter_months": f"{first_month:%B} – {period:%B %Y}",
        "figures": figures,
        "score": breakdown.client,
        "sla": figures.sla_attainment,
        "ttr_rows": _ttr_rows(figures),
        "trend_points": trend,
        "trend_first": first,
        "trend_first_day": (
            (first[0] - timedelta(microseconds=1)).astimezone(client.tz).date() if first else None
        ),
        "trend_change": change,
        "trend_change_abs": abs(change) if change is not None else None,
        "trend_chart": charts.line_chart(
            [
                (f"{t.astimezone(client.tz) - timedelta(microseconds=1):%d %b}", float(r.pct))
                for t, r in known
            ],
            title="Compliance % over the quarter",
            max_value=100,
            unit=" %",
        ),  # fmt: skip
        "active_exception_rows": exception_rows(active.order_by("expires_at", "pk"), at),
        "risk_lines": _plain_risks(start, at),
        "remediated_count": remediated_in_period(start, at).count(),
    }
    return "reports/pdf/qbr.html", context


# --- exception register ---------------------------------------------------------------------


@register(ReportKind.EXCEPTIONS)
def exception_register(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    """The register as it stood at the end of the period (or now, for the running month)."""
    context = _period_context(client, period, "Exception register")
    at = context["as_of"]
    qs = _exceptions_qs().filter(created_at__lt=at).order_by("-created_at", "pk")
    context |= {
        "counts": register_counts(at),
        "register_rows": exception_rows(qs, at),
    }
    return "reports/pdf/exceptions.html", context

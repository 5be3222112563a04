"""The report builders: monthly compliance, HIPAA evidence pack, QBR summary, exception register.

Every figure comes from the compliance engine (``patchops.compliance``) or the selectors the
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

from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.selectors import active_exceptions_at, register_counts
from inventory.choices import OsFamily
from inventory.models import AssetClass
from patchops import compliance
from patchops.choices import SeverityTier
from patchops.models import Finding
from patchops.risk import TIER_RANK
from patchops.selectors import TIER_ORDER, explain_positions

from . import charts
from .models import ReportKind
from .reports import (
    ReportNotAvailable,
    base_context,
    ephi_inventory_context,
    evidence_chain_context,
    register,
)
from .selectors import period_bounds, verify_chain

__all__ = [
    "as_of",
    "PRIORITIZATION_LIMIT",
    "RatioRow",
    "compliance_rows",
    "remediated_in_period",
    "exception_rows",
    "prioritization_log_context",
    "controls_register_context",
    "monthly_compliance",
    "hipaa_evidence_pack",
    "qbr_summary",
    "exception_register",
]

# The printed prioritization log lists at most this many findings (the CSV has all of them).
PRIORITIZATION_LIMIT = 1000
TOP_RISKS = 10
QBR_TREND_DAYS = 90


def as_of(client: Any, period: date) -> tuple[datetime, datetime, datetime]:
    """(start, end, at): the month's bounds and the instant its point-in-time figures use."""
    start, end = period_bounds(period, client.tz)
    return start, end, min(end, timezone.now())


def _period_context(client: Any, period: date, title: str) -> dict[str, Any]:
    start, end, at = as_of(client, period)
    context = base_context(client, period, title)
    context |= {
        "as_of": at,
        # Preformatted: the template |date filter would convert back to the active zone (UTC).
        "as_of_label": f"{at.astimezone(client.tz):%Y-%m-%d %H:%M} {client.timezone}",
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


def _rows(ratios: dict[str, compliance.Ratio], labels: dict[str, str]) -> list[RatioRow]:
    return [
        RatioRow(k, labels.get(k, k), r.numerator, r.denominator, r.pct) for k, r in ratios.items()
    ]


TIER_LABELS = dict(SeverityTier.choices)


def compliance_rows(breakdown: compliance.ComplianceBreakdown) -> dict[str, Any]:
    """The engine's breakdown as printable rows: by tier, by OS family, by asset class."""
    tiers = {t: breakdown.by_tier[t] for t in compliance.REPORTED_TIERS}
    unknown = breakdown.by_tier.get(SeverityTier.UNKNOWN)
    if unknown is not None and unknown.numerator != unknown.denominator:
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


def _failure_context(start: datetime, at: datetime) -> dict[str, Any]:
    failed, attempted = compliance.deployment_counts(start, at)
    ring_rows = [
        {"ring": row["name"], "failed": row["failed"], "attempted": row["attempted"],
         "pct": row["pct"]}
        for row in compliance.failure_rates_by_ring(start, at)
    ]  # fmt: skip
    return {
        "deployments_failed": failed,
        "deployments_attempted": attempted,
        "failure_rate": compliance.pct(failed, attempted),
        "failure_by_ring": ring_rows,
    }


# --- monthly compliance report --------------------------------------------------------------


@register(ReportKind.MONTHLY)
def monthly_compliance(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    context = _period_context(client, period, "Monthly compliance report")
    start, at = context["window_start"], context["as_of"]
    sla, sla_by_tier, ttr = compliance.period_figures(start, at)
    active = _exceptions_qs().filter(pk__in=active_exceptions_at(at).values("pk"))
    top = list(remediated_in_period(start, at)[:TOP_RISKS])
    context |= compliance_rows(compliance.compliance_at(at))
    context |= _failure_context(start, at)
    context |= {
        "sla": sla,
        "sla_by_tier": [(TIER_LABELS.get(t, t), r) for t, r in _tier_sorted(sla_by_tier)],
        "ttr_rows": [
            {
                "tier": TIER_LABELS.get(t, t),
                "count": v["count"],
                "median_hours": _hours(v["median"]),
                "p90_hours": _hours(v["p90"]),
            }
            for t, v in _tier_sorted(ttr)
        ],
        "exception_figures": compliance.exception_figures(at),
        "active_exception_rows": exception_rows(active.order_by("expires_at", "pk"), at),
        "top_remediated": top,
        "remediated_count": remediated_in_period(start, at).count(),
    }
    return "evidence/pdf/monthly.html", context


# --- HIPAA-aligned evidence pack ------------------------------------------------------------


def prioritization_log_context(at: datetime, *, limit: int = PRIORITIZATION_LIMIT) -> dict:
    """The risk-based prioritization log as it stood at ``at``: findings outstanding then, in
    the order of the portal's log (tier, risk score, due time) with the reason for each."""
    qs = (
        compliance.outstanding_at(at)
        .select_related("asset", "asset__asset_class")
        .annotate(tier_rank=TIER_ORDER)
        .order_by("tier_rank", "-risk_score", "due_at", "pk")
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
    context |= ephi_inventory_context()
    context |= prioritization_log_context(at)
    context |= evidence_chain_context(client, period)
    context |= controls_register_context(start, end, at)
    status = verify_chain()
    context |= {
        "chain_status": status,
        "in_scope_assets": compliance.in_scope_assets().count(),
    }
    return "evidence/pdf/hipaa.html", context


# --- QBR executive summary ------------------------------------------------------------------


def _trend_points(rows: list[Any]) -> list[tuple[str, float]]:
    """One point per ISO week (its last row), so 90 days print as ~13 labelled points."""
    by_week: dict[tuple[int, int], Any] = {}
    for row in rows:
        if row.compliance_pct is not None:
            by_week[row.date.isocalendar()[:2]] = row
    return [(f"{r.date:%d %b}", float(r.compliance_pct)) for r in by_week.values()]


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
    from scorecards.models import ScorecardRow

    context = _period_context(client, period, "QBR executive summary")
    start, at = context["window_start"], context["as_of"]
    last_day = (at - timedelta(microseconds=1)).astimezone(client.tz).date()
    trend = list(
        ScorecardRow.objects.filter(
            client=client,
            date__gt=last_day - timedelta(days=QBR_TREND_DAYS),
            date__lte=last_day,
        ).order_by("date")
    )
    # Point-in-time counts (open critical, overdue, KEV) and the breakdown at ``at``; the SLA
    # attainment of the calendar month comes from the same engine over [start, at).
    figures = compliance.compute(client=client, at=at, period_days=max(1, (at - start).days))
    breakdown = figures.compliance
    sla, _, _ = compliance.period_figures(start, at)
    points = _trend_points(trend)
    first = next((r for r in trend if r.compliance_pct is not None), None)
    change = (
        breakdown.client.pct - first.compliance_pct
        if first is not None and breakdown.client.pct is not None
        else None
    )
    active = _exceptions_qs().filter(pk__in=active_exceptions_at(at).values("pk"))
    context |= compliance_rows(breakdown)
    context |= {
        "score": breakdown.client,
        "sla": sla,
        "trend_rows": trend,
        "trend_first": first,
        "trend_change": change,
        "trend_change_abs": abs(change) if change is not None else None,
        "trend_chart": charts.line_chart(
            points, title="Compliance % over the last 90 days", max_value=100, unit=" %"
        ),
        "active_exception_rows": exception_rows(active.order_by("expires_at", "pk"), at),
        "risk_lines": _plain_risks(start, at),
        "remediated_count": remediated_in_period(start, at).count(),
        "figures": figures,
    }
    return "evidence/pdf/qbr.html", context


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
    return "evidence/pdf/exceptions.html", context

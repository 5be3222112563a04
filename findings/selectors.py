"""Read side of the patch core (run inside the client's schema)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from findings.chain import ChainEvent, FindingChain

from . import chain, coverage, risk
from .choices import FindingState
from .models import Finding, SlaPolicyChange, SlaRule

__all__ = [
    "DUE_SOON_HOURS",
    "visible_findings",
    "outstanding_findings",
    "prioritized_findings",
    "with_exception_cover",
    "work_order",
    "excepted_label",
    "PrioritizedFinding",
    "explain_positions",
    "finding_chain",
    "finding_timeline",
    "sla_rules",
    "sla_changes",
]

DUE_SOON_HOURS = 72
TIER_ORDER = Case(
    *[When(tier=t, then=Value(rank)) for t, rank in risk.TIER_RANK.items()],
    default=Value(9),
    output_field=IntegerField(),
)


def visible_findings(principal: Any) -> QuerySet[Finding]:
    """Findings of the current client. Client-level roles see all of them (ClientAccess has
    already decided the principal may see this client)."""
    return Finding.objects.select_related("asset", "asset__asset_class", "advisory")


def outstanding_findings() -> QuerySet[Finding]:
    return Finding.objects.exclude(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE])


def with_exception_cover(qs: QuerySet[Finding], at: datetime) -> QuerySet[Finding]:
    """Annotate ``excepted_until`` (the expiry of the active exception covering the finding at
    ``at``, or None) and ``is_excepted`` (0 uncovered, 1 excepted: excepted work ranks last)."""
    return qs.annotate(excepted_until=coverage.excepted_until(at)).annotate(
        is_excepted=Case(
            When(excepted_until__isnull=False, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def work_order(qs: QuerySet[Finding], at: datetime) -> QuerySet[Finding]:
    """Any finding list in working order: outstanding uncovered work first, then excepted
    findings, then closed ones (verified, not applicable); by due time within each."""
    closed = Case(
        When(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE], then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        with_exception_cover(qs, at)
        .annotate(is_closed=closed)
        .order_by("is_closed", "is_excepted", "due_at", "pk")
    )


ASSET_PAGE_FINDINGS = 100


def asset_page_context(*, asset: Any, at: datetime) -> dict[str, Any]:
    """``inventory.hooks.on_asset_page``: the asset's findings in working order."""
    return {"findings": work_order(Finding.objects.filter(asset=asset), at)[:ASSET_PAGE_FINDINGS]}


PRIORITY_ORDER = ("is_excepted", "tier_rank", "-risk_score", "due_at", "pk")


def prioritized_findings(principal: Any, *, at: datetime | None = None) -> QuerySet[Finding]:
    """Outstanding findings in prioritization order: uncovered work first, then findings an
    active exception covers; within each, tier, then risk score, then due time."""
    at = at or timezone.now()
    qs = visible_findings(principal).exclude(
        state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE]
    )
    return with_exception_cover(qs, at).annotate(tier_rank=TIER_ORDER).order_by(*PRIORITY_ORDER)


@dataclass
class PrioritizedFinding:
    position: int
    finding: Finding
    reason: str


def explain_positions(
    findings: list[Finding], *, at: datetime, start: int = 1
) -> list[PrioritizedFinding]:
    """The reason for each position (two catalogue queries for the whole page). A finding
    raised to critical by KEV names the CVEs of it that KEV lists, not every CVE it fixes."""
    cves = {c for f in findings for c in f.cves}
    scores = risk.cve_score_map(cves)
    kev = risk.is_kev(cves)
    out = []
    for i, f in enumerate(findings):
        per = [scores[c] for c in f.cves if c in scores]
        inputs = risk.RiskInput(
            cvss=max((s.cvss for s in per if s.cvss is not None), default=None),
            epss=max((s.epss for s in per if s.epss is not None), default=None),
            is_kev=f.is_kev,
            is_ephi=f.asset.is_ephi,
            asset_class_key=f.asset.asset_class.key,
            role=f.asset.role,
        )
        listed = [c for c in f.cves if c.upper() in kev] if f.is_kev else []
        reason = risk.explain(inputs, tier=f.tier, kev_cves=listed)
        reason += f"; risk score {f.risk_score}; " + _due_phrase(f.due_at, at)
        until = getattr(f, "excepted_until", None)
        if until is not None:
            reason += f"; {excepted_label(until)}, ranked after uncovered work"
        out.append(PrioritizedFinding(position=start + i, finding=f, reason=reason))
    return out


def excepted_label(until: datetime) -> str:
    """The words "excepted until 2026-11-30 09:00 CST", in the client's time zone whoever reads
    them (a page, the API, a CSV or a PDF)."""
    from django.db import connection

    tz = getattr(getattr(connection, "tenant", None), "tz", None)
    local = until.astimezone(tz) if tz is not None else timezone.localtime(until)
    return f"excepted until {local:%Y-%m-%d %H:%M} {local.tzname()}"


def _due_phrase(due_at: datetime, at: datetime) -> str:
    delta = due_at - at
    if delta < timedelta(0):
        return f"overdue by {_span(-delta)}"
    return f"due in {_span(delta)}"


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def finding_chain(finding: Finding) -> FindingChain:
    """The finding's evidence chain (detection, deployment attempts, verification) and every
    event naming it, read through the event contract."""
    return chain.finding_chain(finding)


def finding_timeline(finding: Finding) -> list[ChainEvent]:
    """Every evidence event naming the finding, in chain order."""
    return finding_chain(finding).events


def sla_rules() -> QuerySet[SlaRule]:
    return SlaRule.objects.select_related("asset_class").order_by("asset_class__key", "pk")


def sla_changes() -> QuerySet[SlaPolicyChange]:
    return SlaPolicyChange.objects.order_by("-at", "-pk")

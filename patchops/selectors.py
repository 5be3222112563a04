"""Read side of the patch core (run inside the client's schema)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from evidence.models import EvidenceEvent

from . import risk
from .choices import FindingState
from .models import Finding, SlaPolicyChange, SlaRule

__all__ = [
    "DUE_SOON_HOURS",
    "visible_findings",
    "outstanding_findings",
    "prioritized_findings",
    "PrioritizedFinding",
    "explain_positions",
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


def prioritized_findings(principal: Any) -> QuerySet[Finding]:
    """Open findings in prioritization order: tier, then risk score, then due time."""
    return (
        visible_findings(principal)
        .exclude(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE])
        .annotate(tier_rank=TIER_ORDER)
        .order_by("tier_rank", "-risk_score", "due_at", "pk")
    )


@dataclass
class PrioritizedFinding:
    position: int
    finding: Finding
    reason: str


def explain_positions(
    findings: list[Finding], *, at: datetime, start: int = 1
) -> list[PrioritizedFinding]:
    """The reason for each position (one catalogue query for the whole page)."""
    scores = risk.cve_score_map({c for f in findings for c in f.cves})
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
        reason = risk.explain(inputs, tier=f.tier, kev_cves=f.cves if f.is_kev else ())
        reason += f"; risk score {f.risk_score}; " + _due_phrase(f.due_at, at)
        out.append(PrioritizedFinding(position=start + i, finding=f, reason=reason))
    return out


def _due_phrase(due_at: datetime, at: datetime) -> str:
    delta = due_at - at
    if delta < timedelta(0):
        return f"overdue by {_span(-delta)}"
    return f"due in {_span(delta)}"


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def finding_timeline(finding: Finding) -> QuerySet[EvidenceEvent]:
    return EvidenceEvent.objects.filter(
        subject_type="finding", subject_id=str(finding.uuid)
    ).order_by("sequence")


def sla_rules() -> QuerySet[SlaRule]:
    return SlaRule.objects.select_related("asset_class").order_by("asset_class__key", "pk")


def sla_changes() -> QuerySet[SlaPolicyChange]:
    return SlaPolicyChange.objects.order_by("-at", "-pk")


def overdue_q(at: datetime) -> Q:
    return Q(due_at__lt=at) & ~Q(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE])

"""Service tiers: what each client's plan gives it.

A client's ``plan`` (``Client.plan``) names one ``Tier``: which report kinds it gets and how
often the schedule produces them, whether the HIPAA-aligned evidence pack and the QBR summary
come with it, whether its exposed credentials are monitored and how fast an exposure alert is
answered. Every page, report, task and API that offers one of these asks ``tier_of(client)``
here, so a plan change is seen everywhere at once.

Report kinds are named by their values (``reports.models.ReportKind``): the reports app sits
above this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import models

__all__ = [
    "Plan",
    "Tier",
    "TIERS",
    "DEFAULT_PLAN",
    "tier_of",
    "plans_with_kind",
    "Gain",
    "upgrade_gains",
]

MONTHLY, HIPAA, QBR, INVENTORY, EXCEPTIONS, BUNDLE = (
    "monthly",
    "hipaa",
    "qbr",
    "inventory",
    "exceptions",
    "bundle",
)
EVERY_MONTH = frozenset(range(1, 13))
QUARTER_ENDS = frozenset({3, 6, 9, 12})


class Plan(models.TextChoices):
    ESSENTIALS = "essentials", "Essentials"
    COMPLIANCE = "compliance", "Compliance"
    COMPLIANCE_EXPOSURE = "compliance_exposure", "Compliance + Exposure"


@dataclass(frozen=True)
class Tier:
    """What one plan includes."""

    plan: str
    label: str
    report_kinds: frozenset[str]
    # Months (of the reported period) the 1st-of-month schedule produces reports for.
    report_months: frozenset[int]
    cadence: str
    hipaa_pack: bool
    qbr: bool
    exposure_monitoring: bool
    # How long an exposure alert may wait for each step of its response (ticket, forced
    # password reset, client owner told); None without exposure monitoring.
    exposure_response: timedelta | None
    # How soon the MSP answers the client's own requests (support desk).
    support_response: timedelta

    def includes(self, kind: str) -> bool:
        return kind in self.report_kinds

    def reports_due_for(self, period: date) -> bool:
        """Whether the schedule produces the reports of the month starting ``period``."""
        return period.month in self.report_months

    @property
    def exposure_response_hours(self) -> int | None:
        if self.exposure_response is None:
            return None
        return int(self.exposure_response.total_seconds() // 3600)

    @property
    def support_response_hours(self) -> int:
        return int(self.support_response.total_seconds() // 3600)

    def summary(self) -> list[str]:
        """What the plan gives, in plain words (pages, API)."""
        lines = [f"Reports {self.cadence.lower()}: " + ", ".join(sorted(self.report_kinds))]
        lines.append("HIPAA-aligned evidence pack" if self.hipaa_pack else "No HIPAA pack")
        lines.append("QBR executive summary" if self.qbr else "No QBR")
        if self.exposure_monitoring:
            lines.append(
                f"Exposure monitoring, each response step within {self.exposure_response_hours} h"
            )
        else:
            lines.append("No exposure monitoring")
        lines.append(f"Support response within {self.support_response_hours} h")
        return lines


_ESSENTIAL_KINDS = frozenset({MONTHLY, INVENTORY, EXCEPTIONS})
_COMPLIANCE_KINDS = _ESSENTIAL_KINDS | {HIPAA, QBR, BUNDLE}

TIERS: dict[str, Tier] = {
    Plan.ESSENTIALS: Tier(
        plan=Plan.ESSENTIALS,
        label=Plan.ESSENTIALS.label,
        report_kinds=_ESSENTIAL_KINDS,
        report_months=QUARTER_ENDS,
        cadence="Quarterly",
        hipaa_pack=False,
        qbr=False,
        exposure_monitoring=False,
        exposure_response=None,
        support_response=timedelta(hours=24),
    ),
    Plan.COMPLIANCE: Tier(
        plan=Plan.COMPLIANCE,
        label=Plan.COMPLIANCE.label,
        report_kinds=_COMPLIANCE_KINDS,
        report_months=EVERY_MONTH,
        cadence="Monthly",
        hipaa_pack=True,
        qbr=True,
        exposure_monitoring=False,
        exposure_response=None,
        support_response=timedelta(hours=8),
    ),
    Plan.COMPLIANCE_EXPOSURE: Tier(
        plan=Plan.COMPLIANCE_EXPOSURE,
        label=Plan.COMPLIANCE_EXPOSURE.label,
        report_kinds=_COMPLIANCE_KINDS,
        report_months=EVERY_MONTH,
        cadence="Monthly",
        hipaa_pack=True,
        qbr=True,
        exposure_monitoring=True,
        exposure_response=timedelta(hours=4),
        support_response=timedelta(hours=4),
    ),
}
# Clients created before plans existed kept every report they had: the Compliance plan.
DEFAULT_PLAN = Plan.COMPLIANCE


def tier_of(client: Any) -> Tier:
    """The tier of ``client`` (its plan; the default plan for anything without one)."""
    return TIERS.get(getattr(client, "plan", "") or DEFAULT_PLAN, TIERS[DEFAULT_PLAN])


def plans_with_kind(kind: str) -> list[str]:
    """Labels of the plans that include report ``kind``, cheapest first."""
    return [t.label for t in TIERS.values() if t.includes(kind)]


@dataclass(frozen=True)
class Gain:
    """What ``client`` would gain by moving to ``plan``, and why it matters for it."""

    plan: str
    label: str
    reason: str


def upgrade_gains(client: Any) -> list[Gain]:
    """The upgrades that would help ``client``: a HIPAA-regulated client without the evidence
    pack needs it for its audits; a regulated client (ePHI) without exposure monitoring has no
    answer to a leaked password."""
    tier = tier_of(client)
    gains: list[Gain] = []
    regulated = bool(getattr(client, "is_hipaa", False))
    if regulated and not tier.hipaa_pack:
        gains.append(
            Gain(
                Plan.COMPLIANCE,
                Plan.COMPLIANCE.label,
                "HIPAA-regulated but without the HIPAA-aligned evidence pack and QBRs.",
            )
        )
    if regulated and not tier.exposure_monitoring:
        gains.append(
            Gain(
                Plan.COMPLIANCE_EXPOSURE,
                Plan.COMPLIANCE_EXPOSURE.label,
                "Holds ePHI but nobody watches for its staff's leaked passwords.",
            )
        )
    return gains

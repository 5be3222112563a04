"""Severity tier and risk score (DESIGN: Severity tier; Flows 2, Prioritize).

**Tier** comes from the vendor severity (advisory, or the severity the device reported) and is
raised to ``critical`` when any of the finding's CVEs is in CISA KEV.

**Risk score** (0–100) orders findings *within* a tier; it never moves a finding across tiers:

    risk_score = 5 × CVSS base (0–10, the highest of the finding's CVEs; v3.1, else v4.0)   → 0–50
               + 25 × EPSS probability (0–1, the highest of its CVEs)                       → 0–25
               + 10 if the asset is an ePHI system
               + 5  if the asset class is core server, 3 if do not disrupt
               + 5  if the asset's role is server, 2 if shared kiosk
               + 5  if any CVE is in KEV                                                     → ≤ 100

The **risk-based prioritization log** orders open findings by tier (critical first), then risk
score (highest first), then due time (soonest first), and says why for each position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from catalogue.models import EpssScore, KevEntry, Vulnerability

from .choices import SeverityTier

__all__ = [
    "TIER_RANK",
    "is_kev",
    "tier_for",
    "cve_score_map",
    "CveScores",
    "risk_score",
    "RiskInput",
    "explain",
]

TIER_RANK: dict[str, int] = {
    SeverityTier.CRITICAL: 0,
    SeverityTier.HIGH: 1,
    SeverityTier.MEDIUM: 2,
    SeverityTier.LOW: 3,
    SeverityTier.UNKNOWN: 4,
}
_TIERS = set(TIER_RANK)


def is_kev(cves: Iterable[str]) -> set[str]:
    """The CVEs among ``cves`` that CISA KEV lists (``catalogue.KevEntry``)."""
    wanted = {c.strip().upper() for c in cves if c}
    if not wanted:
        return set()
    return set(KevEntry.objects.listed().filter(cve_id__in=wanted).values_list("cve_id", flat=True))


def tier_for(vendor_severity: str | None, kev_cves: Iterable[str] = ()) -> str:
    """Vendor severity, raised to critical when any CVE is in KEV."""
    if any(True for _ in kev_cves):
        return SeverityTier.CRITICAL
    value = (vendor_severity or "").strip().lower()
    if value in ("important",):  # Microsoft's word for high
        value = SeverityTier.HIGH
    if value in ("moderate",):
        value = SeverityTier.MEDIUM
    return value if value in _TIERS else SeverityTier.UNKNOWN


@dataclass(frozen=True)
class CveScores:
    cvss: Decimal | None
    epss: Decimal | None


def cve_score_map(cves: Iterable[str]) -> dict[str, CveScores]:
    """CVSS base score (v3.1, else v4.0, from ``catalogue.Vulnerability``) and EPSS probability
    (``catalogue.EpssScore.score``) per CVE the catalogue knows. Two queries."""
    wanted = {c.strip().upper() for c in cves if c}
    if not wanted:
        return {}
    cvss: dict[str, Decimal | None] = {}
    for cve, v3, v4 in Vulnerability.objects.filter(cve_id__in=wanted).values_list(
        "cve_id", "cvss3_score", "cvss4_score"
    ):
        cvss[cve] = Decimal(v3) if v3 is not None else (Decimal(v4) if v4 is not None else None)
    epss = dict(EpssScore.objects.filter(cve_id__in=wanted).values_list("cve_id", "score"))
    return {
        cve: CveScores(cvss.get(cve), Decimal(epss[cve]) if epss.get(cve) is not None else None)
        for cve in set(cvss) | set(epss)
    }


@dataclass(frozen=True)
class RiskInput:
    cvss: Decimal | None
    epss: Decimal | None
    is_kev: bool
    is_ephi: bool
    asset_class_key: str
    role: str


def risk_score(r: RiskInput) -> Decimal:
    """The documented formula (module docstring); two decimals, 0–100."""
    score = Decimal(0)
    if r.cvss is not None:
        score += Decimal(5) * min(Decimal(10), Decimal(r.cvss))
    if r.epss is not None:
        score += Decimal(25) * min(Decimal(1), Decimal(r.epss))
    if r.is_ephi:
        score += 10
    score += {"core_server": 5, "do_not_disrupt": 3}.get(r.asset_class_key, 0)
    score += {"server": 5, "shared_kiosk": 2}.get(r.role, 0)
    if r.is_kev:
        score += 5
    return min(Decimal(100), score).quantize(Decimal("0.01"))


def explain(r: RiskInput, *, tier: str, kev_cves: Iterable[str] = ()) -> str:
    """Why a finding sits where it does in the prioritization log."""
    kev = sorted(kev_cves)
    parts = [f"tier {tier}" + (f" (raised: {', '.join(kev)} in CISA KEV)" if kev else "")]
    parts.append(f"CVSS {r.cvss}" if r.cvss is not None else "no CVSS score")
    parts.append(f"EPSS {Decimal(r.epss):.4f}" if r.epss is not None else "no EPSS score")
    if r.is_ephi:
        parts.append("ePHI system")
    if r.asset_class_key in ("core_server", "do_not_disrupt"):
        parts.append(r.asset_class_key.replace("_", " "))
    if r.role in ("server", "shared_kiosk"):
        parts.append(f"role {r.role.replace('_', ' ')}")
    return "; ".join(parts)

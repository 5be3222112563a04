"""The inputs of a finding's tier and risk score: the worst severity of its CVEs, KEV and EPSS."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from catalogue.choices import SeverityTier
from catalogue.matching.base import _worst
from catalogue.models import Advisory, AdvisoryFix, EpssScore, KevEntry, Vulnerability


def order_by_epss(cves: Iterable[str]) -> list[str]:
    """CVE ids, highest EPSS first (unscored last), then by id."""
    ids = sorted(set(cves))
    scores = dict(EpssScore.objects.filter(cve_id__in=ids).values_list("cve_id", "score"))
    return sorted(ids, key=lambda c: (-(scores.get(c) if c in scores else Decimal(-1)), c))


def severity_tier(advisory_or_cves: Advisory | AdvisoryFix | Iterable[str]) -> SeverityTier:
    """Tier from the vendor's severity, raised to critical when any CVE is in CISA KEV.

    Vendor severity is read from the fix row (per product), else the advisory, else the CVEs'
    vendor severity, and only then the CVSS rating. Unknown stays unknown unless KEV lists a CVE.
    """
    if isinstance(advisory_or_cves, AdvisoryFix):
        cves = list(advisory_or_cves.cves or advisory_or_cves.advisory.cves)
        vendor = _worst([advisory_or_cves.severity]) or SeverityTier.UNKNOWN
        if vendor == SeverityTier.UNKNOWN:
            vendor = advisory_or_cves.advisory.vendor_severity
    elif isinstance(advisory_or_cves, Advisory):
        cves = list(advisory_or_cves.cves)
        vendor = advisory_or_cves.vendor_severity
    else:
        cves = list(advisory_or_cves)
        vendor = SeverityTier.UNKNOWN
    if cves and KevEntry.objects.listed().filter(cve_id__in=cves).exists():
        return SeverityTier.CRITICAL
    if vendor == SeverityTier.UNKNOWN and cves:
        rows = list(
            Vulnerability.objects.filter(cve_id__in=cves).values_list(
                "vendor_severity", "cvss_severity"
            )
        )
        vendor = _worst(v for v, _ in rows)
        if vendor == SeverityTier.UNKNOWN:
            vendor = _worst(c for _, c in rows)
    return SeverityTier(vendor)


def cve_signals(cves: Iterable[str]) -> dict:
    """Risk inputs for a set of CVEs.

    ``{"max_cvss": Decimal | None, "max_epss": Decimal | None, "max_epss_percentile": Decimal |
    None, "kev": bool, "kev_cves": [...], "kev_ransomware": bool, "exploited": bool,
    "epss": {cve: score}}`` — ``exploited`` is KEV listing or SSVC Exploitation "active".
    """
    ids = sorted(set(cves))
    vulns = list(
        Vulnerability.objects.filter(cve_id__in=ids).values(
            "cve_id", "cvss3_score", "cvss4_score", "ssvc_exploitation"
        )
    )
    scores = [v["cvss3_score"] if v["cvss3_score"] is not None else v["cvss4_score"] for v in vulns]
    epss = {
        row["cve_id"]: row
        for row in EpssScore.objects.filter(cve_id__in=ids).values("cve_id", "score", "percentile")
    }
    kev = list(
        KevEntry.objects.listed().filter(cve_id__in=ids).values_list("cve_id", "known_ransomware")
    )
    return {
        "max_cvss": max((s for s in scores if s is not None), default=None),
        "max_epss": max((r["score"] for r in epss.values()), default=None),
        "max_epss_percentile": max((r["percentile"] for r in epss.values()), default=None),
        "kev": bool(kev),
        "kev_cves": sorted(c for c, _ in kev),
        "kev_ransomware": any(r for _, r in kev),
        "exploited": bool(kev) or any(v["ssvc_exploitation"] == "active" for v in vulns),
        "epss": {c: r["score"] for c, r in epss.items()},
    }

"""Read side of the catalogue: reference data every signed-in principal may read."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from .models import Advisory, AdvisoryFix, EpssScore, KevEntry, Vulnerability

__all__ = ["vulnerabilities_with_signals", "advisories_with_fixes", "kev_entries"]


def vulnerabilities_with_signals() -> QuerySet[Vulnerability]:
    """CVEs annotated with ``is_kev``, ``epss_score`` and ``epss_percentile`` (one query)."""
    epss = EpssScore.objects.filter(cve_id=OuterRef("cve_id"))
    return Vulnerability.objects.annotate(
        is_kev=Exists(KevEntry.objects.listed().filter(cve_id=OuterRef("cve_id"))),
        epss_score=Subquery(epss.values("score")[:1]),
        epss_percentile=Subquery(epss.values("percentile")[:1]),
    ).order_by("cve_id")


def advisories_with_fixes() -> QuerySet[Advisory]:
    from django.db.models import Prefetch

    return Advisory.objects.prefetch_related(
        Prefetch("fixes", queryset=AdvisoryFix.objects.order_by("product", "package_name"))
    ).order_by("-release_date", "identifier")


def kev_entries() -> QuerySet[KevEntry]:
    return KevEntry.objects.order_by("-date_added", "cve_id")

"""The demo seeds findings from the demo assets' pending updates and a scorecard trend."""

from __future__ import annotations

import pytest

from demo.findings import TREND_DAYS, seed_client
from findings.choices import FindingState
from findings.models import Finding
from scorecards.models import ScorecardRow


@pytest.mark.django_db
def test_demo_spreads_findings_and_writes_scorecard_rows(in_tenant_a):
    from demo.inventory import seed_client as seed_inventory
    from inventory.models import Asset

    seed_inventory(in_tenant_a)  # ingests the demo fleet (its pending updates among it)
    seed_client(in_tenant_a)
    states = set(Finding.objects.values_list("state", flat=True))
    assert {FindingState.VERIFIED, FindingState.OPEN} <= states
    verified = Finding.objects.filter(state=FindingState.VERIFIED).first()
    proof = verified.asset.software.filter(name__in=[verified.patch_identifier,
                                                     verified.package_name])  # fmt: skip
    assert proof.exists()
    rows = ScorecardRow.objects.filter(client=in_tenant_a)
    assert rows.count() == TREND_DAYS
    latest = rows.order_by("-date").first()
    assert (
        latest.assets_in_scope
        == Asset.objects.filter(patch_reports__isnull=False).distinct().count()
    )


@pytest.mark.django_db
def test_demo_findings_carry_cvss_epss_and_kev_from_the_catalogue(in_tenant_a):
    """The demo imports its catalogue documents through the catalogue importers, so no risk
    score is 0.00 for want of signals and the KEV-listed CVE raises its findings."""
    from catalogue.models import CatalogueImport, EpssScore, KevEntry, Vulnerability
    from demo.inventory import seed_client as seed_inventory
    from findings import risk

    seed_inventory(in_tenant_a)
    seed_client(in_tenant_a)
    assert set(CatalogueImport.objects.values_list("kind", flat=True)) >= {"kev", "nvd", "epss"}
    assert KevEntry.objects.filter(cve_id="CVE-2024-30088").exists()
    assert str(Vulnerability.objects.get(cve_id="CVE-2024-30080").cvss3_score) == "9.8"
    findings = list(Finding.objects.select_related("asset", "asset__asset_class"))
    assert findings and all(f.risk_score > 0 for f in findings)
    kev = [f for f in findings if f.is_kev]
    assert kev and all("CVE-2024-30088" in f.cves and f.tier == "critical" for f in kev)
    # Each score is the documented formula over the imported signals.
    for f in findings[:10]:
        scores = risk.cve_score_map(f.cves)
        cvss = max((s.cvss for s in scores.values() if s.cvss is not None), default=None)
        epss = max((s.epss for s in scores.values() if s.epss is not None), default=None)
        assert epss == max(
            EpssScore.objects.filter(cve_id__in=f.cves).values_list("score", flat=True)
        )
        expected = risk.risk_score(risk.RiskInput(
            cvss=cvss, epss=epss, is_kev=f.is_kev, is_ephi=f.asset.is_ephi,
            asset_class_key=f.asset.asset_class.key, role=f.asset.role,
        ))  # fmt: skip
        assert f.risk_score == expected
    # Seeding again imports nothing twice.
    from demo.findings import seed_catalogue

    assert seed_catalogue() == 0


@pytest.mark.django_db
def test_demo_after_inventory_demo_keeps_past_detection_times(in_tenant_a):
    """The inventory demo ingests without opening findings; the patch core's demo opens them
    weeks back, so overdue and verified-last-month findings exist."""
    from datetime import timedelta

    from django.utils import timezone

    from demo.inventory import seed_client as seed_inventory

    seed_inventory(in_tenant_a)
    assert Finding.objects.count() == 0
    seed_client(in_tenant_a)
    now = timezone.now()
    assert Finding.objects.filter(detected_at__lt=now - timedelta(days=8)).exists()
    assert Finding.objects.filter(state=FindingState.OPEN, due_at__lt=now).exists()
    assert Finding.objects.filter(state=FindingState.VERIFIED).exists()

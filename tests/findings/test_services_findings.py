"""Findings: opened idempotently with their SLA clock, closed only by verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evidence.models import EvidenceEvent
from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from findings.services import MissingPatch, findings_from_pending_updates, sync_findings_for_asset
from findings.verification import verify_findings_for_asset
from inventory.choices import SoftwareKind
from tests.inventory.factories import AssetFactory, InstalledSoftwareFactory, PendingUpdateFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def kb(ident: str = "KB5032190", severity: str = "critical") -> MissingPatch:
    return MissingPatch(
        patch_identifier=ident,
        package_name="2023-11 Cumulative Update",
        vendor_severity=severity,
        cves=("CVE-2023-36033",),
        origin=FindingOrigin.PENDING_UPDATE,
    )


@pytest.mark.django_db
def test_sync_opens_one_finding_per_patch_idempotently(in_tenant_a):
    asset = AssetFactory(core_server=True)
    first = sync_findings_for_asset(asset=asset, matches=[kb()], at=T0)
    again = sync_findings_for_asset(asset=asset, matches=[kb()], at=T0 + timedelta(days=1))
    assert len(first.opened) == 1 and len(again.opened) == 0
    finding = Finding.objects.get(asset=asset)
    # core server × critical = 24 h from detection
    assert finding.due_at == T0 + timedelta(hours=24)
    assert finding.tier == SeverityTier.CRITICAL
    assert (
        EvidenceEvent.objects.filter(kind="finding.detected", subject_id=str(finding.uuid)).count()
        == 1
    )


@pytest.mark.django_db
def test_missing_from_later_sync_does_not_close_finding(in_tenant_a):
    asset = AssetFactory()
    sync_findings_for_asset(asset=asset, matches=[kb()], at=T0)
    sync_findings_for_asset(asset=asset, matches=[], at=T0 + timedelta(days=2))
    assert Finding.objects.get(asset=asset).state == FindingState.OPEN


@pytest.mark.django_db
def test_deployed_finding_is_not_closed_until_inventory_verifies(in_tenant_a):
    asset = AssetFactory()
    sync_findings_for_asset(asset=asset, matches=[kb()], at=T0)
    Finding.objects.filter(asset=asset).update(state=FindingState.DEPLOYED, deployed_at=T0)
    assert verify_findings_for_asset(asset, T0 + timedelta(hours=1)) == 0
    assert Finding.objects.get(asset=asset).state == FindingState.DEPLOYED
    InstalledSoftwareFactory(asset=asset, kind=SoftwareKind.HOTFIX, name="KB5032190", version="")
    at = T0 + timedelta(hours=5)
    assert verify_findings_for_asset(asset, at) == 1
    finding = Finding.objects.get(asset=asset)
    assert (finding.state, finding.verified_at) == (FindingState.VERIFIED, at)
    event = EvidenceEvent.objects.get(kind="finding.verified", subject_id=str(finding.uuid))
    assert event.payload["proof"] == "KB5032190 installed"


@pytest.mark.django_db
def test_package_verified_by_debian_version_rules_not_strings(in_tenant_a):
    asset = AssetFactory(linux=True)
    match = MissingPatch(
        patch_identifier="USN-6000-1",
        package_name="openssl",
        installed_version="3.0.2-0ubuntu1.9",
        fixed_version="3.0.2-0ubuntu1.10",
        vendor_severity="high",
    )
    sw = InstalledSoftwareFactory(
        asset=asset, kind=SoftwareKind.DEB, name="openssl", version="3.0.2-0ubuntu1.9"
    )
    sync_findings_for_asset(asset=asset, matches=[match], at=T0)
    assert Finding.objects.get(asset=asset).state == FindingState.OPEN
    # "1.10" > "1.9" by dpkg rules (a string comparison would say otherwise)
    sw.version = "3.0.2-0ubuntu1.10"
    sw.save()
    assert verify_findings_for_asset(asset, T0 + timedelta(days=1)) == 1


@pytest.mark.django_db
def test_pending_updates_become_missing_patches(in_tenant_a):
    asset = AssetFactory()
    PendingUpdateFactory(
        asset=asset,
        name="Cumulative",
        advisory="kb5032190",
        severity="high",
        cves=["cve-2023-36033"],
        reboot_required=True,
    )
    PendingUpdateFactory(
        asset=asset, name="7-Zip", available_version="23.01", advisory="", severity="unknown"
    )
    patches = {p.patch_identifier: p for p in findings_from_pending_updates(asset)}
    assert set(patches) == {"KB5032190", "7-Zip@23.01"}
    assert patches["KB5032190"].cves == ("CVE-2023-36033",)
    assert patches["KB5032190"].origin == FindingOrigin.PENDING_UPDATE
    result = sync_findings_for_asset(asset=asset, matches=list(patches.values()), at=T0)
    assert {f.tier for f in result.opened} == {SeverityTier.HIGH, SeverityTier.UNKNOWN}


@pytest.mark.django_db
def test_verified_finding_reopens_when_the_fix_disappears(in_tenant_a):
    asset = AssetFactory()
    sync_findings_for_asset(asset=asset, matches=[kb()], at=T0)
    fix = InstalledSoftwareFactory(asset=asset, kind=SoftwareKind.HOTFIX, name="KB5032190")
    verify_findings_for_asset(asset, T0 + timedelta(hours=2))
    # still reported pending while the KB is installed: stays verified
    sync_findings_for_asset(asset=asset, matches=[kb()], at=T0 + timedelta(days=1))
    assert Finding.objects.get(asset=asset).state == FindingState.VERIFIED
    fix.delete()  # uninstalled (rolled back): missing again
    later = T0 + timedelta(days=2)
    sync_findings_for_asset(asset=asset, matches=[kb()], at=later)
    finding = Finding.objects.get(asset=asset)
    assert (finding.state, finding.detected_at, finding.verified_at) == (
        FindingState.OPEN, later, None,
    )  # fmt: skip
    assert EvidenceEvent.objects.filter(kind="finding.reopened").count() == 1

"""Findings: opened idempotently with their SLA clock, closed only by verification.

Every input is what an agent reports (``tests.producers``: ingest opens, re-tiers and verifies
findings); the deployment is a rollout whose agent job reports the install.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from evidence.models import EvidenceEvent
from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from findings.services import findings_from_pending_updates
from tests.producers import Device, all_day_window, push, roll_out

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KB = "KB5032190"


def report(device: Device, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        push(device)


@pytest.mark.django_db
def test_sync_opens_one_finding_per_patch_idempotently(in_tenant_a):
    server = Device("fs-01", os="windows_server").missing_kb(
        KB, cves=["CVE-2023-36033"], severity="critical"
    )
    report(server, T0)
    report(server, T0 + timedelta(days=1))
    finding = Finding.objects.get(asset=server.asset)
    # core server × critical = 24 h from detection
    assert finding.due_at == T0 + timedelta(hours=24) and finding.detected_at == T0
    assert finding.tier == SeverityTier.CRITICAL
    assert (
        EvidenceEvent.objects.filter(kind="finding.detected", subject_id=str(finding.uuid)).count()
        == 1
    )


@pytest.mark.django_db
def test_missing_from_a_later_report_does_not_close_the_finding(in_tenant_a):
    pc = Device("pc-01").missing_kb(KB)
    report(pc, T0)
    pc.pending = []  # no longer offered, yet not installed either
    report(pc, T0 + timedelta(days=2))
    assert Finding.objects.get(asset=pc.asset).state == FindingState.OPEN


@pytest.mark.django_db
def test_deployed_finding_is_not_closed_until_inventory_verifies(in_tenant_a, personas, login):
    pc = Device("pc-01").missing_kb(KB, cves=["CVE-2023-36033"])
    report(pc, T0)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        all_day_window(login(personas.msp_admin))
        roll_out([Finding.objects.get(asset=pc.asset)], engineer=personas.engineer)
    finding = Finding.objects.get(asset=pc.asset)
    assert finding.state == FindingState.DEPLOYED  # the agent reported the install
    report(pc, T0 + timedelta(hours=1))  # an inventory that does not show the KB yet
    assert Finding.objects.get(asset=pc.asset).state == FindingState.DEPLOYED
    at = T0 + timedelta(hours=5)
    report(pc.install_kb(KB), at)
    finding = Finding.objects.get(asset=pc.asset)
    assert (finding.state, finding.verified_at) == (FindingState.VERIFIED, at)
    event = EvidenceEvent.objects.get(kind="finding.verified", subject_id=str(finding.uuid))
    assert event.payload["proof"] == f"{KB} installed"


@pytest.mark.django_db
def test_package_verified_by_debian_version_rules_not_strings(in_tenant_a):
    server = Device("app-01", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.9"})
    server.missing_package("openssl", "3.0.2-0ubuntu1.10", advisory="USN-6000-1", severity="high")
    report(server, T0)
    assert Finding.objects.get(asset=server.asset).state == FindingState.OPEN
    # "1.10" > "1.9" by dpkg rules (a string comparison would say otherwise)
    report(server.upgrade("openssl", "3.0.2-0ubuntu1.10"), T0 + timedelta(days=1))
    assert Finding.objects.get(asset=server.asset).state == FindingState.VERIFIED


@pytest.mark.django_db
def test_pending_updates_become_missing_patches(in_tenant_a):
    pc = Device("pc-01")
    pc.pending = [
        {"name": "Cumulative", "source": "windows_update", "advisory": "kb5032190",
         "severity": "high", "cves": ["cve-2023-36033"], "reboot_required": True},
        {"name": "7-Zip", "source": "other", "available_version": "23.01", "advisory": "",
         "severity": "unknown"},
    ]  # fmt: skip
    report(pc, T0)
    patches = {p.patch_identifier: p for p in findings_from_pending_updates(pc.asset)}
    assert set(patches) == {KB, "7-Zip@23.01"}
    assert patches[KB].cves == ("CVE-2023-36033",)
    assert patches[KB].origin == FindingOrigin.PENDING_UPDATE
    opened = {f.patch_identifier: f.tier for f in Finding.objects.filter(asset=pc.asset)}
    assert opened == {KB: SeverityTier.HIGH, "7-Zip@23.01": SeverityTier.UNKNOWN}


@pytest.mark.django_db
def test_verified_finding_reopens_when_the_fix_disappears(in_tenant_a):
    pc = Device("pc-01").missing_kb(KB, cves=["CVE-2023-36033"], severity="critical")
    report(pc, T0)
    pc.hotfixes.append(KB)
    report(pc, T0 + timedelta(hours=2))
    # still reported pending while the KB is installed: stays verified
    report(pc, T0 + timedelta(days=1))
    assert Finding.objects.get(asset=pc.asset).state == FindingState.VERIFIED
    pc.hotfixes.remove(KB)  # uninstalled (rolled back by hand): missing again
    later = T0 + timedelta(days=2)
    report(pc, later)
    finding = Finding.objects.get(asset=pc.asset)
    assert (finding.state, finding.detected_at, finding.verified_at) == (
        FindingState.OPEN, later, None,
    )  # fmt: skip
    assert EvidenceEvent.objects.filter(kind="finding.reopened").count() == 1

"""Ingest of discovery payloads: upsert, idempotency, changes, transactions, set-based writes."""

import copy

import pytest

from common.choices import OsFamily
from evidence.models import EvidenceEvent
from inventory.choices import SoftwareCategory, SoftwareChangeKind, SoftwareKind
from inventory.models import Asset, DiscoveryRun, InstalledSoftware, PendingUpdate, SoftwareChange
from inventory.payload import PayloadError, validate_payloads
from inventory.services import ingest_payloads, run_ingest

from .payloads import ubuntu_payload, windows_payload

pytestmark = pytest.mark.django_db


def ingest(data, **kwargs):
    return ingest_payloads(devices=validate_payloads(data), source="agent", **kwargs)


def test_ingest_creates_asset_software_kbs_and_pending_updates(in_tenant_a):
    summary = ingest(windows_payload())
    asset = Asset.objects.get()
    assert summary.assets_created == 1 and summary.software_added == 8
    assert asset.hostname == "frontdesk-01" and asset.os_family == OsFamily.WINDOWS
    assert asset.mac_addresses == ["00:1a:2b:3c:4d:5e"] and asset.ip_addresses == ["10.1.2.30"]
    assert asset.role == "workstation" and asset.asset_class.key == "workstation"
    categories = dict(asset.software.values_list("name", "category"))
    assert categories["Google Chrome"] == SoftwareCategory.BROWSER
    assert categories["Adobe Acrobat Reader DC"] == SoftwareCategory.PDF_TOOL
    assert categories["TeamViewer"] == SoftwareCategory.REMOTE_ACCESS
    assert categories["Java 8 Update 401"] == SoftwareCategory.JAVA
    assert categories["Epic Hyperspace"] == SoftwareCategory.LINE_OF_BUSINESS
    assert categories["7-Zip 23.01 (x64)"] == SoftwareCategory.OTHER
    kb = asset.software.get(kind=SoftwareKind.HOTFIX, name="KB5036893")
    assert kb.category == SoftwareCategory.OS_UPDATE and str(kb.install_date) == "2024-04-09"
    update = PendingUpdate.objects.get()
    assert update.advisory == "KB5037771" and update.cves == ["CVE-2024-30051", "CVE-2024-30040"]
    assert update.reboot_required and update.severity == "critical"
    event = EvidenceEvent.objects.get(kind="asset.discovered")
    assert event.payload["assets"] == [{"id": str(asset.uuid), "hostname": "frontdesk-01"}]


def test_ingest_same_payload_twice_changes_nothing(in_tenant_a):
    payload = windows_payload()
    ingest([payload, ubuntu_payload()])
    before = (
        list(InstalledSoftware.objects.order_by("pk").values_list("pk", "version")),
        list(PendingUpdate.objects.order_by("pk").values_list("pk", "available_version")),
        Asset.objects.count(),
    )
    events = EvidenceEvent.objects.count()
    summary = ingest([copy.deepcopy(payload), ubuntu_payload()])
    after = (
        list(InstalledSoftware.objects.order_by("pk").values_list("pk", "version")),
        list(PendingUpdate.objects.order_by("pk").values_list("pk", "available_version")),
        Asset.objects.count(),
    )
    assert before == after
    assert summary.assets_created == 0 and summary.assets_updated == 2
    assert (summary.software_added, summary.software_removed, summary.software_upgraded) == (
        0,
        0,
        0,
    )
    assert SoftwareChange.objects.count() == 0
    assert EvidenceEvent.objects.count() == events


def test_ingest_records_installed_removed_and_upgraded_software(in_tenant_a):
    ingest(windows_payload())
    later = windows_payload()
    later["programs"] = [p for p in later["programs"] if p["name"] != "TeamViewer"]
    later["programs"][0]["version"] = "125.0.6422.60"
    later["programs"].append({"name": "AnyDesk", "version": "8.0.9", "publisher": "AnyDesk"})
    summary = ingest(later)
    changes = {
        (c.name, c.change): (c.from_version, c.to_version) for c in SoftwareChange.objects.all()
    }
    assert changes == {
        ("TeamViewer", SoftwareChangeKind.REMOVED): ("15.52.3", ""),
        ("Google Chrome", SoftwareChangeKind.UPGRADED): ("124.0.6367.91", "125.0.6422.60"),
        ("AnyDesk", SoftwareChangeKind.INSTALLED): ("", "8.0.9"),
    }
    assert (summary.software_added, summary.software_removed, summary.software_upgraded) == (
        1,
        1,
        1,
    )
    event = EvidenceEvent.objects.get(kind="software.changed")
    assert event.payload["totals"] == {"installed": 1, "removed": 1, "upgraded": 1}
    assert event.payload["assets"][0]["hostname"] == "frontdesk-01"


def test_ingest_missing_table_keeps_that_software(in_tenant_a):
    ingest(windows_payload())
    partial = windows_payload()
    del partial["programs"]
    del partial["pending_updates"]
    ingest(partial)
    assert InstalledSoftware.objects.filter(kind=SoftwareKind.PROGRAM).count() == 6
    assert PendingUpdate.objects.count() == 1


def test_ingest_empty_table_means_nothing_installed(in_tenant_a):
    ingest(windows_payload())
    ingest(windows_payload(programs=[], pending=[]))
    assert not InstalledSoftware.objects.filter(kind=SoftwareKind.PROGRAM).exists()
    assert not PendingUpdate.objects.exists()


def test_ingest_bad_device_in_batch_writes_nothing(in_tenant_a):
    bad = windows_payload(agent_id="agent-2", hostname="x")
    bad["programs"].append({"name": 42.5, "version": ["not", "text"]})
    with pytest.raises(PayloadError) as excinfo:
        run_ingest(data=[windows_payload(), bad], source="agent", run_source="agent")
    assert "[1].programs[6].version" in excinfo.value.errors
    assert not Asset.objects.exists() and not DiscoveryRun.objects.exists()
    assert not EvidenceEvent.objects.filter(kind="asset.discovered").exists()


def test_ingest_unknown_asset_class_writes_nothing(in_tenant_a):
    payload = windows_payload(patchops={"asset_class": "spaceship"})
    with pytest.raises(PayloadError) as excinfo:
        run_ingest(data=payload, source="csv", run_source="file")
    assert "[0].patchops.asset_class" in excinfo.value.errors
    assert not Asset.objects.exists()


def test_ingest_matches_by_serial_then_hostname_and_mac(in_tenant_a):
    from tests.producers import adopt, scan

    # Found on a network scan and adopted first: no agent, no serial, its MAC.
    scan([{"status": "up", "ip": "10.1.2.30", "mac": "00:1A:2B:3C:4D:5E"}])
    existing = adopt("10.1.2.30", actor="engineer@msp.test", hostname="frontdesk-01")
    ingest(windows_payload())
    assert Asset.objects.get().pk == existing.pk
    other = {"system_info": {"hostname": "renamed-pc", "hardware_serial": "SN-agent-win-001"}}
    ingest(other)  # same hardware serial under a new name (a CSV row, say)
    asset = Asset.objects.get()
    assert asset.hostname == "renamed-pc" and asset.agent_id == "agent-win-001"
    clone = windows_payload(agent_id="agent-clone", hostname="clone-pc")
    clone["system_info"]["hardware_serial"] = "SN-agent-win-001"
    ingest(clone)  # another agent with the same serial is another device
    assert Asset.objects.count() == 2


def test_ingest_batch_with_same_device_twice_applies_in_order(in_tenant_a):
    first = windows_payload()
    second = windows_payload()
    second["programs"][0]["version"] = "999"
    summary = ingest([first, second])
    assert Asset.objects.count() == 1 and summary.assets_created == 1
    assert InstalledSoftware.objects.get(name="Google Chrome").version == "999"


def test_ingest_unseen_asset_turns_fresh_again(in_tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    from inventory.services import mark_stale_assets

    ingest(windows_payload())
    # Unseen for longer than the staleness window: the daily task marks it stale.
    assert mark_stale_assets(stale_after_days=14, now=timezone.now() + timedelta(days=15)) == 1
    assert Asset.objects.get().is_stale
    ingest(windows_payload())
    assert not Asset.objects.get().is_stale


def _queries_for(rows: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ingest(windows_payload(agent_id=f"agent-{rows}", software_count=5))
    payload = windows_payload(agent_id=f"agent-{rows}", software_count=rows)
    payload["programs"][0]["version"] = "2"
    payload["programs"].pop(1)
    with CaptureQueriesContext(connection) as ctx:
        ingest(payload)
    return len(ctx.captured_queries)


def test_ingest_query_count_does_not_grow_with_software_rows(in_tenant_a):
    small = _queries_for(10)
    large = _queries_for(200)
    # Inventory upsert plus the findings it feeds (pending updates → findings, verification)
    # the ring check of the device (one query: it already has its ring) and the patch report
    # that keeps the device reporting (one insert per chunk). Stored rows that changed are
    # updated by one UPDATE … FROM beside the INSERT of the new ones.
    assert small == large and large <= 80
    assert InstalledSoftware.objects.filter(asset__agent_id="agent-200").count() == 7 + 200


def test_ingest_query_count_is_flat_for_many_devices(in_tenant_a, django_assert_max_num_queries):
    devices = [
        windows_payload(agent_id=f"a-{i}", hostname=f"pc-{i}", software_count=20) for i in range(40)
    ]
    # Inventory (about 30 statements) plus its findings and the new devices' ring placement,
    # a fixed number for the whole batch.
    with django_assert_max_num_queries(108):
        summary = ingest(devices)
    assert summary.assets_created == 40 and InstalledSoftware.objects.count() == 40 * 28
    event = EvidenceEvent.objects.get(kind="asset.discovered")
    assert len(event.payload["assets"]) == 40


def test_run_ingest_records_a_discovery_run(in_tenant_a):
    run, summary = run_ingest(
        data=[windows_payload(), ubuntu_payload()],
        source="agent",
        run_source="agent",
        source_name="token:agent",
    )
    assert run.status == "succeeded" and run.finished_at >= run.started_at
    assert run.counts["assets_created"] == 2 and run.counts["pending_updates"] == 2


def test_rpm_versions_carry_epoch_and_release(in_tenant_a):
    ingest(
        {
            "system_info": {"hostname": "rhel-01"},
            "os_version": {"name": "Red Hat Enterprise Linux", "platform": "rhel"},
            "rpm_packages": [
                {"name": "openssl", "version": "3.0.7", "release": "25.el9_3", "epoch": "1"},
                {"name": "bash", "version": "5.1.8", "release": "6.el9", "epoch": "0"},
            ],
        }
    )
    versions = dict(InstalledSoftware.objects.values_list("name", "version"))
    assert versions == {"openssl": "1:3.0.7-25.el9_3", "bash": "5.1.8-6.el9"}
    asset = Asset.objects.get()
    assert asset.os_family == OsFamily.LINUX and asset.role == "server"
    assert asset.asset_class.key == "core_server"


def test_partial_os_report_keeps_known_os(in_tenant_a):
    ingest(windows_payload())
    ingest(
        {
            "agent_id": "agent-win-001",
            "system_info": {"hostname": "frontdesk-01"},
            "os_version": {"build": "22631.3593"},
        }
    )
    asset = Asset.objects.get()
    assert asset.os_family == OsFamily.WINDOWS and asset.os_name == "Microsoft Windows 11 Pro"
    assert asset.os_build == "22631.3593"


def test_new_device_software_keeps_text_that_needs_copy_escaping(in_tenant_a):
    # A device first seen in the push has its rows COPYed straight into the table.
    names = ["Tab\tSeparated Tool", "Back\\slash Editor", "Line\nBreak Viewer", "Plain Tool"]
    programs = [
        {"name": name, "version": f"1.{i}\\b", "publisher": "Vendor\twith tab"}
        for i, name in enumerate(names)
    ]
    summary = ingest(windows_payload(programs=programs))
    stored = dict(
        InstalledSoftware.objects.filter(kind=SoftwareKind.PROGRAM).values_list("name", "version")
    )
    assert summary.assets_created == 1
    assert stored == {name: f"1.{i}\\b" for i, name in enumerate(names)}
    vendors = set(InstalledSoftware.objects.filter(kind=SoftwareKind.PROGRAM).values_list("vendor"))
    assert vendors == {("Vendor\twith tab",)}
    again = ingest(windows_payload(programs=programs))
    assert again.software_added == 0 and again.software_upgraded == 0


def test_changed_pending_update_is_rewritten_in_place(in_tenant_a):
    ingest(windows_payload())
    before = PendingUpdate.objects.get()
    payload = windows_payload()
    payload["pending_updates"][0]["severity"] = "low"
    ingest(payload)
    after = PendingUpdate.objects.get()
    assert after.pk == before.pk and after.severity == "low" != before.severity
    assert after.reported_at > before.reported_at

"""The patch core reads the real catalogue, rings and integrations models, and a catalogue
change re-matches every client's inventory."""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django_tenants.utils import tenant_context

from catalogue.services import run_import
from compliance import engine as compliance
from findings import risk, tasks
from findings.choices import FindingOrigin
from findings.models import Finding
from findings.pipeline import linux_ecosystem_for, refresh_findings
from integrations.choices import TicketCategory
from integrations.services import open_ticket
from tests.producers import Device, load_catalogue, push

pytestmark = pytest.mark.django_db


def test_risk_reads_kev_and_epss_from_the_catalogue(db, tmp_path):
    load_catalogue(
        tmp_path,
        kev=["CVE-2099-0001"],
        cvss={"CVE-2099-0001": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},  # 9.8
        epss={"CVE-2099-0001": "0.5"},
    )
    assert risk.is_kev(["cve-2099-0001", "CVE-2099-0002"]) == {"CVE-2099-0001"}
    scores = risk.cve_score_map(["CVE-2099-0001"])
    assert scores["CVE-2099-0001"] == risk.CveScores(Decimal("9.8"), Decimal("0.5"))


def test_after_hours_tickets_count_patch_categories_flagged_at_creation(in_tenant_a):
    client = in_tenant_a  # America/Chicago, business hours from the client record
    night = datetime(2026, 6, 3, 4, 0, tzinfo=UTC)  # 23:00 in Chicago, a Tuesday
    noon = datetime(2026, 6, 3, 17, 0, tzinfo=UTC)  # 12:00 in Chicago
    open_ticket(category=TicketCategory.BREACH, summary="breach", at=night)
    open_ticket(category=TicketCategory.PATCHING, summary="patch", at=night)
    open_ticket(category=TicketCategory.EXCEPTION, summary="exception", at=night)
    open_ticket(category=TicketCategory.PATCHING, summary="daytime", at=noon)
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC)
    assert compliance.after_hours_tickets(client, start, end) == 2


def test_linux_ecosystem_for_releases():
    assert linux_ecosystem_for("Ubuntu", "22.04") == "Ubuntu:22.04:LTS"
    assert linux_ecosystem_for("Ubuntu 23.10", "") == "Ubuntu:23.10"
    assert linux_ecosystem_for("Debian GNU/Linux", "12") == "Debian:12"
    assert linux_ecosystem_for("Fedora Linux", "40") == "Fedora:40"  # RPM family
    assert linux_ecosystem_for("Arch Linux", "rolling") is None


def test_refresh_findings_after_catalogue_change_opens_matches(tenant_a, realdata):
    """A Windows 11 23H2 PC reported before November's MSRC document was imported: the
    refresh the import triggers finds the cumulative update it lacks."""
    pc = Device("pc-01", hotfixes=["KB5031354"], programs={})
    with tenant_context(tenant_a):
        push(pc)
        asset = pc.asset
        assert not Finding.objects.exists()
    run_import(kind="msrc", path=realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    result = tasks.refresh_client_findings.run(tenant_a.pk)
    assert result["client"] == "tenant-a" and result["opened"] == 1
    with tenant_context(tenant_a):
        finding = Finding.objects.get(asset=asset)
        assert finding.patch_identifier == "KB5032190"  # November's for 23H2 x64
        assert finding.origin == FindingOrigin.ADVISORY_MATCH and finding.tier == "critical"
        # Running it again changes nothing.
        again = refresh_findings(asset_ids=[asset.pk], at=datetime.now(UTC))
        assert again.opened == 0 and Finding.objects.count() == 1


def test_catalogue_import_dispatches_a_refresh_for_every_client(
    tenant_a, tenant_b, realdata, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.dispatch_refresh_findings, "apply_async") as dispatch,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_import(kind="osv", path=realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json")
    assert dispatch.call_count == 1
    with mock.patch.object(tasks.refresh_client_findings, "apply_async") as send:
        assert tasks.dispatch_refresh_findings.run()["dispatched"] >= 2
    sent = sorted(call.kwargs["kwargs"]["client_id"] for call in send.call_args_list)
    assert tenant_a.pk in sent and tenant_b.pk in sent


def test_unchanged_catalogue_import_dispatches_nothing(
    tenant_a, realdata, django_capture_on_commit_callbacks
):
    path = realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json"
    run_import(kind="osv", path=path)
    with (
        mock.patch.object(tasks.dispatch_refresh_findings, "apply_async") as dispatch,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_import(kind="osv", path=path)
    assert dispatch.call_count == 0

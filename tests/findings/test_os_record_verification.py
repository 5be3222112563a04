"""Verification from the OS's own records, through the real producers: the agent's collector and
parsers read the install records, the agent pushes them with its inventory (``POST discovery/``),
ingest keeps them and matches, the verification cites the record in ``finding.verified``, and a
deployment an agent job reported installed that the OS's records do not show is flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from findings.models import Finding
from inventory.models import InstallRecordCoverage, OsInstallRecord
from patchops_agent.collect import install_records
from patchops_agent.parsers.osrecords import parse_wu_events_xml
from rings.models import DeploymentResult
from tenants.choices import TokenScope
from tests.producers import Device, all_day_window, push_api, roll_out

T = datetime(2026, 6, 3, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
KB = "KB5031354"
SAMPLES = Path(__file__).parent.parent / "inventory" / "osrecords"
API = "/clients/tenant-a/api/v1/"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


@pytest.fixture
def agents(make_token, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a, name="clinic-agents")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def deployed(tenant_a, personas, login, agents):
    """front-desk-01 and -02 report KB5031354 missing at T; at T+2h a rollout installs it on
    both and both agents report the job succeeded."""
    with time_machine.travel(T - H, tick=False):
        all_day_window(login(personas.msp_admin))
    one = Device("front-desk-01").missing_kb(KB, severity="critical")
    two = Device("front-desk-02").missing_kb(KB, severity="critical")
    with time_machine.travel(T, tick=False):
        push_api(agents, [one, two])
    with tenant_context(tenant_a):
        findings = list(Finding.objects.filter(patch_identifier=KB).order_by("asset__hostname"))
        with time_machine.travel(T + 2 * H, tick=False):
            roll_out(findings, engineer=personas.engineer, agent_http=agents)
    return one, two, findings


@pytest.mark.django_db
def test_verification_cites_the_windows_update_event_and_an_unrecorded_deployment_is_flagged(
    tenant_a, personas, login, agents, deployed
):
    one, two, (first, second) = deployed
    # An inventory without install records (an older agent) flags nothing: no records cover
    # the deployment.
    with time_machine.travel(T + 3 * H, tick=False):
        push_api(agents, two)
    with tenant_context(tenant_a):
        assert not EvidenceEvent.objects.filter(kind="deployment.unconfirmed").exists()
    # At T+6h both agents push: front-desk-01 with the KB installed and its System log's
    # Windows Update events (a wevtutil export read by the agent's parser); front-desk-02's
    # log shows the install started and failed, and its inventory still lacks the KB.
    one.install_kb(KB).os_records = parse_wu_events_xml(sample("wevtutil_system.xml"))
    two.os_records = parse_wu_events_xml(sample("wevtutil_failed.xml"))
    with time_machine.travel(T + 6 * H, tick=False):
        answer = push_api(agents, [one, two])
    assert answer["os_records"] == 5 and answer["os_records_new"] == 5
    with tenant_context(tenant_a):
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.state == FindingState.VERIFIED
        assert second.state != FindingState.VERIFIED
        verified = EvidenceEvent.objects.get(kind="finding.verified", subject_id=str(first.uuid))
        record = OsInstallRecord.objects.get(asset=first.asset, record_id="48213")
        assert record.outcome == "installed" and record.kb == KB
        assert verified.payload["os_record"] == {
            "source": "windows_update",
            "record_id": "48213",
            "occurred_at": datetime(2026, 6, 3, 4, 12, 45, tzinfo=UTC).isoformat(),
            "name": record.name,
            "version": "1",
            "kb": KB,
        }
        assert verified.payload["proof"] == f"{KB} installed"
        # front-desk-01's deployment is confirmed by its OS; front-desk-02's is flagged.
        results = {
            r.asset.hostname: r
            for r in DeploymentResult.objects.select_related("asset").filter(
                asset__in=[first.asset, second.asset]
            )
        }
        assert results["front-desk-01"].os_records_checked_at == T + 6 * H
        assert results["front-desk-01"].missing_os_record is False
        assert results["front-desk-02"].missing_os_record is True
        (flag,) = EvidenceEvent.objects.filter(kind="deployment.unconfirmed")
        assert flag.subject_id == str(second.asset.uuid)
        assert flag.payload["patches"] == [KB]
        assert flag.payload["findings"] == [str(second.uuid)]
        assert flag.payload["records_through"] == (T + 6 * H).isoformat()
        assert [f["record_id"] for f in flag.payload["os_failures"]] == ["51009"]
    # The chain of the verified finding cites the record (source, time, record id).
    viewer = login(personas.viewer_a)
    body = viewer.get(f"{API}findings/{first.uuid}/chain/").json()
    assert body["verification"]["os_record"]["record_id"] == "48213"
    assert body["verification"]["os_record"]["source"] == "windows_update"
    assert "windows_update record 48213 at 2026-06-03T04:12:45" in body["verification"]["summary"]
    # The flag is in the unverified finding's chain.
    kinds = [e["kind"] for e in viewer.get(f"{API}findings/{second.uuid}/chain/").json()["events"]]
    assert "deployment.unconfirmed" in kinds
    # The same records pushed again are stored once, and a deployment is checked once.
    with time_machine.travel(T + 7 * H, tick=False):
        again = push_api(agents, [one, two])
    assert again["os_records"] == 5 and again["os_records_new"] == 0
    with tenant_context(tenant_a):
        assert OsInstallRecord.objects.count() == 5
        assert EvidenceEvent.objects.filter(kind="deployment.unconfirmed").count() == 1
        assert InstallRecordCoverage.objects.get(asset=second.asset).through == T + 7 * H


@pytest.mark.django_db
def test_linux_verification_cites_the_apt_history_the_collector_read(
    tenant_a, personas, login, agents, tmp_path
):
    server = Device("lnx-01", os="ubuntu", role="server")
    server.packages["openssl"] = "3.0.2-0ubuntu1.15"
    server.missing_package("openssl", "3.0.2-0ubuntu1.16", advisory="USN-6854-1")
    with time_machine.travel(T, tick=False):
        push_api(agents, server)
    # The agent's collector reads /var/log/apt/history.log (here a copy with a failed kernel
    # install among the successes) and keeps what it sends.
    folder = tmp_path / "apt"
    folder.mkdir()
    (folder / "history.log").write_text(sample("apt_history.log"), encoding="utf-8")
    records = install_records(
        "Linux",
        None,
        roots={
            "apt_history": str(folder / "history.log"),
            "dnf_rpm_log": str(tmp_path / "no" / "dnf.rpm.log"),
            "yum_log": str(tmp_path / "no" / "yum.log"),
        },
    )
    openssl = next(r for r in records if r["name"] == "openssl")
    server.upgrade("openssl", "3.0.2-0ubuntu1.16").os_records = records
    with time_machine.travel(T + 14 * H, tick=False):
        answer = push_api(agents, server)
    assert answer["os_records"] == len(records) == 5
    with tenant_context(tenant_a):
        finding = Finding.objects.get(asset__hostname="lnx-01", package_name="openssl")
        assert finding.state == FindingState.VERIFIED
        event = EvidenceEvent.objects.get(kind="finding.verified", subject_id=str(finding.uuid))
        cited = event.payload["os_record"]
        assert cited["source"] == "apt_history"
        assert cited["record_id"] == openssl["record_id"]
        assert cited["version"] == "3.0.2-0ubuntu1.16"
        stored = OsInstallRecord.objects.get(record_id=openssl["record_id"])
        assert cited["occurred_at"] == stored.occurred_at.isoformat()
        failed = OsInstallRecord.objects.filter(outcome="failed").values_list("name", flat=True)
        assert sorted(failed) == [
            "linux-image-5.15.0-113-generic",
            "linux-modules-5.15.0-113-generic",
        ]
    # The scope page: per OS family the patch method, the verification source and how many
    # assets provide OS records.
    admin = login(personas.msp_admin)
    scope = admin.get(f"{API}scope/").json()
    linux = next(r for r in scope["os_families"] if r["os_family"] == "linux")
    assert linux["patch_methods"] == [{"method": "apt (Debian, Ubuntu)", "assets": 1}]
    assert linux["verification_sources"] == [
        {"source": "apt_history", "label": "apt history.log", "assets": 1}
    ]
    assert linux["assets_with_os_records"] == 1
    assert linux["verification"] == "inventory and the OS's install records"
    windows = next(r for r in scope["os_families"] if r["os_family"] == "windows")
    assert windows["assets_with_os_records"] == 0 and windows["verification"] == "inventory only"
    page = admin.get("/clients/tenant-a/scope/").content.decode()
    row = page.split('data-testid="verification-row-linux"')[1].split("</tr>")[0]
    assert "apt (Debian, Ubuntu)" in row and "apt history.log" in row
    assert 'data-testid="os-records-linux">1 of 1<' in row


@pytest.mark.django_db
def test_a_verification_without_an_os_record_cites_none(tenant_a, agents):
    """A Mac whose agent sent no records: verified by inventory alone, ``os_record`` null."""
    pc = Device("front-desk-09").missing_kb("KB5031999")
    with time_machine.travel(T, tick=False):
        push_api(agents, pc)
    with time_machine.travel(T + H, tick=False):
        push_api(agents, pc.install_kb("KB5031999"))
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.get(kind="finding.verified")
        assert event.payload["os_record"] is None
        assert not OsInstallRecord.objects.exists()
        assert not InstallRecordCoverage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "path", "message"),
    [
        ({"source": "eventlog"}, "os_install_records[0].source", "Must be one of"),
        (
            {
                "source": "apt_history",
                "occurred_at": "2026-06-03T04:00:00Z",
                "outcome": "installed",
            },
            "os_install_records[0].record_id",
            "required",
        ),
        (
            {
                "source": "apt_history",
                "record_id": "x",
                "occurred_at": "2026-06-03 04:00",
                "outcome": "installed",
            },
            "os_install_records[0].occurred_at",
            "UTC offset",
        ),
        (
            {
                "source": "windows_update",
                "record_id": "1",
                "occurred_at": "2026-06-03T04:00:00Z",
                "outcome": "succeeded",
            },
            "os_install_records[0].outcome",
            "Must be one of",
        ),
        (
            {
                "source": "windows_update",
                "record_id": "1",
                "occurred_at": "2026-06-03T04:00:00Z",
                "outcome": "installed",
                "kb": "5031354",
            },
            "os_install_records[0].kb",
            "KB number",
        ),
    ],
)
def test_bad_install_records_are_refused_and_nothing_is_written(
    tenant_a, agents, row, path, message
):
    import json

    body = Device("front-desk-05").payload(collected_at=T)
    body["os_install_records"] = [row]
    response = agents.post(f"{API}discovery/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert path in json.dumps(response.json())
    with tenant_context(tenant_a):
        assert not OsInstallRecord.objects.exists()
        assert not Finding.objects.exists()

"""Scheduled network scans by a designated scanner agent, end to end: an engineer designates the
scanner on the Network scans page, the scheduled discovery (the ``inventory.run_discovery``
task) queues the scan job, the device agent's job runner runs ``nmap`` and reports the XML
through the agent job API, and the hosts reach the unknown-device queue.

``nmap`` is either the real binary (scanning 127.0.0.1/32 only; skipped where it is missing)
or a stand-in on PATH that prints ``fixtures/nmap_loopback_30.xml``, recorded from a real
``nmap -oX - -T4 -p 39941 127.0.0.0/30`` while a socket listened on port 39941: four loopback
hosts up, each with 39941/tcp open."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

import pytest
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from integrations.choices import JobStatus
from integrations.models import AgentJob, ScanSubnet
from integrations.scans import NMAP_XML_MAX_BYTES, designate_scanner
from inventory.choices import DiscoveryRunStatus
from inventory.models import Asset, DiscoveryRun, UnknownDevice
from inventory.tasks import run_discovery
from patchops_agent.jobs import run_job
from tenants.choices import TokenScope
from tests.producers import Device, adopt, push, scan

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/integrations/network-scans/"
JOBS = "/clients/tenant-a/api/v1/agent-jobs/"
FIXTURE = Path(__file__).parent / "fixtures" / "nmap_loopback_30.xml"
RECORDED_PORT = 39941
RECORDED_HOSTS = ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]

SCANNER = Device("scan-gw-01", os="ubuntu", ip="10.50.0.10", mac="52:54:00:AA:00:10")
PRINTER_IP = "127.0.0.2"


@pytest.fixture
def engineer(login, personas) -> HttpClient:
    return login(personas.engineer)


@pytest.fixture
def agent(tenant_a, make_token) -> HttpClient:
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def fleet(tenant_a):
    """The scanner's agent reported itself; an earlier scan found a print server at 127.0.0.2
    (one of the recorded scan's hosts), which an engineer adopted as a managed asset."""
    with tenant_context(tenant_a):
        push(SCANNER)
        scan([{"status": "up", "ip": PRINTER_IP}])
        printer = adopt(PRINTER_IP, actor="engineer@msp.test", hostname="print-srv-01")
        return SCANNER.asset, printer


def fake_nmap(directory: Path, *, script: str) -> Path:
    """An ``nmap`` on PATH that writes its arguments to ``args`` beside it and runs ``script``."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "nmap"
    exe.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{directory}/args"\n{script}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return directory


def recorded_nmap(tmp_path: Path) -> Path:
    return fake_nmap(tmp_path / "bin", script=f'cat "{FIXTURE}"')


def designate(engineer: HttpClient, scanner: Asset, cidr: str, **options) -> object:
    data = {"scanner": str(scanner.uuid), "cidr": cidr, "timing": "4", **options}
    return engineer.post(PAGE, data)


def scan_runs():
    """The discovery runs of the scanner's reports (the fixture's earlier scan was an import)."""
    return DiscoveryRun.objects.filter(source="nmap", source_name__startswith="scanner ")


def scheduled_run(tenant) -> dict:
    """The client's scheduled discovery, as beat sends it (the task, in the client's schema)."""
    with tenant_context(tenant):
        return run_discovery()


def agent_runs_jobs(agent: HttpClient, agent_id: str) -> list[dict]:
    """What ``patchops-agent jobs`` does: poll, run each job with the job runner, report."""
    body = agent.get(JOBS, {"agent_id": agent_id}).json()
    answers = []
    for job in body["results"]:
        result = run_job(job, agent_id, dry_run=False)
        response = agent.post(f"{JOBS}{job['id']}/result/", result, content_type="application/json")
        assert response.status_code == 200, response.content
        answers.append({"job": job, "sent": result, "answer": response.json()})
    return answers


def test_designated_scanners_nmap_result_reaches_the_unknown_device_queue(
    tenant_a, fleet, engineer, agent, tmp_path, monkeypatch
):
    scanner, printer = fleet
    bin_dir = recorded_nmap(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    response = designate(engineer, scanner, "127.0.0.0/30", ports=str(RECORDED_PORT))
    assert response.status_code == 302, response.content.decode()
    with tenant_context(tenant_a):
        subnet = ScanSubnet.objects.get()
        assert (subnet.scanner_id, subnet.cidr, subnet.ports, subnet.top_ports, subnet.timing) == (
            scanner.pk,
            "127.0.0.0/30",
            str(RECORDED_PORT),
            None,
            4,
        )
        designated = EvidenceEvent.objects.get(kind="scan_subnet.designated")
        assert designated.payload["scanner"] == "scan-gw-01"
        printer_seen = Asset.objects.get(pk=printer.pk).last_seen

    # The scheduled discovery queues one scan job for the scanner's agent.
    result = scheduled_run(tenant_a)
    assert result["counts"]["scan_jobs_queued"] == 1
    with tenant_context(tenant_a):
        job = AgentJob.objects.get(action="network_scan")
        assert job.agent_id == SCANNER.agent_id and job.status == JobStatus.QUEUED
        assert job.scan == {
            "subnet": "127.0.0.0/30",
            "top_ports": None,
            "ports": str(RECORDED_PORT),
            "timing": 4,
        }
    # A second run while that job waits queues no other one.
    again = scheduled_run(tenant_a)
    assert again["counts"]["scan_jobs_queued"] == 0
    assert again["counts"]["scan_jobs_still_pending"] == 1

    # The agent runs nmap with fixed arguments and reports the XML.
    [ran] = agent_runs_jobs(agent, SCANNER.agent_id)
    assert (bin_dir / "args").read_text().split("\n")[:-1] == [
        "-oX",
        "-",
        "-T4",
        "-p",
        str(RECORDED_PORT),
        "127.0.0.0/30",
    ]
    assert ran["sent"]["status"] == "succeeded"
    assert ran["sent"]["nmap_xml"] == FIXTURE.read_text()
    assert ran["answer"]["status"] == "succeeded"

    with tenant_context(tenant_a):
        source = "scanner scan-gw-01 127.0.0.0/30"
        unknown = {str(d.ip): d for d in UnknownDevice.objects.filter(state="new")}
        # Every recorded host but the print server's address is unknown.
        assert sorted(unknown) == [ip for ip in RECORDED_HOSTS if ip != PRINTER_IP]
        for device in unknown.values():
            assert device.state == "new" and device.source_name == source
            assert [p["port"] for p in device.open_ports] == [RECORDED_PORT]
            assert device.open_ports[0]["protocol"] == "tcp"
        assert Asset.objects.get(pk=printer.pk).last_seen > printer_seen
        run = scan_runs().get()
        assert run.status == DiscoveryRunStatus.SUCCEEDED and run.source_name == source
        assert run.counts["hosts_up"] == len(RECORDED_HOSTS)
        assert run.counts["matched_assets"] == 1
        assert run.counts["unknown_new"] == len(RECORDED_HOSTS) - 1
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.result["discovery_run"] == str(run.uuid)
        first_seen = {ip: d.first_seen for ip, d in unknown.items()}

    # The next scheduled run scans again: the queue is refreshed, not duplicated.
    assert scheduled_run(tenant_a)["counts"]["scan_jobs_queued"] == 1
    [ran] = agent_runs_jobs(agent, SCANNER.agent_id)
    assert ran["answer"]["status"] == "succeeded"
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.filter(state="new").count() == len(RECORDED_HOSTS) - 1
        for device in UnknownDevice.objects.filter(state="new"):
            assert device.first_seen == first_seen[str(device.ip)]
            assert device.last_seen > device.first_seen
        latest = scan_runs().order_by("-started_at").first()
        assert latest.counts["unknown_new"] == 0
        assert latest.counts["unknown_refreshed"] == len(RECORDED_HOSTS) - 1

    page = engineer.get(PAGE)
    assert page.status_code == 200
    assert "127.0.0.0/30" in page.content.decode() and "scan-gw-01" in page.content.decode()


@pytest.mark.skipif(shutil.which("nmap") is None, reason="the nmap binary is not installed")
def test_real_nmap_scan_of_the_loopback_address_reaches_the_queue(tenant_a, fleet, engineer, agent):
    scanner, _ = fleet
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        assert designate(engineer, scanner, "127.0.0.1/32", ports=str(port)).status_code == 302
        assert scheduled_run(tenant_a)["counts"]["scan_jobs_queued"] == 1
        [ran] = agent_runs_jobs(agent, SCANNER.agent_id)
    finally:
        listener.close()
    assert ran["sent"]["status"] == "succeeded", ran["sent"]["log"]
    assert ran["answer"]["status"] == "succeeded"
    with tenant_context(tenant_a):
        device = UnknownDevice.objects.get(state="new")
        assert str(device.ip) == "127.0.0.1"
        assert device.source_name == "scanner scan-gw-01 127.0.0.1/32"
        assert [(p["port"], p["protocol"]) for p in device.open_ports] == [(port, "tcp")]


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.60.0.5/24", "10.60.0.5/24 has host bits set: the network is 10.60.0.0/24."),
        ("10.0.0.0/8", "10.0.0.0/8 is too large to scan: at most a /16"),
        ("10.60.0.0", "has no prefix length"),
        ("10.60.0.0/33", "is not a subnet in CIDR form"),
        ("-oX /tmp/x 10.0.0.0/24", "is not a subnet in CIDR form"),
        ("fd00::/64", "fd00::/64 is too large to scan: at most a /112"),
        ("127.0.0.2/31", "127.0.0.2/31 overlaps 127.0.0.0/30, which scan-gw-01 already scans"),
    ],
)
def test_bad_subnet_is_refused_with_a_clear_message_and_nothing_changes(
    tenant_a, fleet, engineer, cidr, message
):
    scanner, _ = fleet
    assert designate(engineer, scanner, "127.0.0.0/30").status_code == 302
    with tenant_context(tenant_a):
        events = EvidenceEvent.objects.count()
    response = designate(engineer, scanner, cidr)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    with tenant_context(tenant_a):
        assert list(ScanSubnet.objects.values_list("cidr", flat=True)) == ["127.0.0.0/30"]
        assert EvidenceEvent.objects.count() == events


def test_bad_ports_and_a_scanner_without_agent_are_refused(tenant_a, fleet, engineer, personas):
    scanner, _ = fleet
    response = designate(engineer, scanner, "10.60.0.0/24", ports="22,70000")
    assert response.status_code == 400
    assert "70000 is not a port or range between 1 and 65535." in response.content.decode()
    response = designate(engineer, scanner, "10.60.0.0/24", ports="22", top_ports="10")
    assert "Give either a port list or a number of top ports." in response.content.decode()
    with tenant_context(tenant_a):
        scan([{"status": "up", "ip": "10.60.0.77"}])
        switch = adopt("10.60.0.77", actor=personas.engineer, hostname="core-switch")
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError, match="core-switch has no discovery agent"):
            designate_scanner(scanner=switch, cidr="10.60.0.0/24", actor=personas.engineer)
        assert not ScanSubnet.objects.exists()
    # The page offers only assets with an agent.
    response = designate(engineer, switch, "10.60.0.0/24")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("echo 'Failed to resolve \"x\".' >&2; exit 1", "nmap exit 1: Failed to resolve"),
        ("echo '<html><body>not a scan</body></html>'", "the scan result is not Nmap XML"),
        (
            f"head -c {NMAP_XML_MAX_BYTES + 1} /dev/zero | tr '\\0' 'x'",
            f"more than the {NMAP_XML_MAX_BYTES:,} a scan may report",
        ),
        (None, "nmap is not installed on this scanner"),
    ],
    ids=["non-zero-exit", "bad-xml", "oversized", "nmap-missing"],
)
def test_a_failed_scan_is_recorded_on_the_job_and_the_run_and_changes_nothing(
    tenant_a, fleet, engineer, agent, tmp_path, monkeypatch, script, reason
):
    scanner, printer = fleet
    if script is None:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    else:
        bin_dir = fake_nmap(tmp_path / "bin", script=script)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert designate(engineer, scanner, "127.0.0.0/30").status_code == 302
    with tenant_context(tenant_a):
        printer_seen = Asset.objects.get(pk=printer.pk).last_seen
    scheduled_run(tenant_a)
    [ran] = agent_runs_jobs(agent, SCANNER.agent_id)
    assert ran["answer"]["status"] == "failed"
    with tenant_context(tenant_a):
        job = AgentJob.objects.get(action="network_scan")
        assert job.status == JobStatus.FAILED and reason in job.result["message"]
        run = scan_runs().get()
        assert run.status == DiscoveryRunStatus.FAILED and reason in run.errors[0]
        assert not UnknownDevice.objects.filter(state="new").exists()
        assert Asset.objects.get(pk=printer.pk).last_seen == printer_seen
    assert f"{reason}" in engineer.get(PAGE).content.decode().replace("&quot;", '"')
    # The failure does not block the next scheduled scan.
    assert scheduled_run(tenant_a)["counts"]["scan_jobs_queued"] == 1


def test_an_oversized_report_is_refused_by_the_portal_too(tenant_a, fleet, engineer, agent):
    scanner, _ = fleet
    assert designate(engineer, scanner, "127.0.0.0/30").status_code == 302
    scheduled_run(tenant_a)
    [job] = agent.get(JOBS, {"agent_id": SCANNER.agent_id}).json()["results"]
    xml = FIXTURE.read_text()
    padded = xml + "<!--" + "x" * (NMAP_XML_MAX_BYTES - len(xml) + 1000) + "-->"
    body = {"agent_id": SCANNER.agent_id, "status": "succeeded", "nmap_xml": padded}
    response = agent.post(f"{JOBS}{job['id']}/result/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "failed"
    with tenant_context(tenant_a):
        assert "more than the" in AgentJob.objects.get(action="network_scan").result["message"]
        assert not UnknownDevice.objects.filter(state="new").exists()


def test_hosts_outside_the_subnet_are_left_out(tenant_a, fleet, engineer, agent, tmp_path):
    """A scanner of 127.0.0.0/31 reporting the whole recorded /30 adds only .0 and .1."""
    scanner, _ = fleet
    assert designate(engineer, scanner, "127.0.0.0/31").status_code == 302
    scheduled_run(tenant_a)
    [job] = agent.get(JOBS, {"agent_id": SCANNER.agent_id}).json()["results"]
    body = {"agent_id": SCANNER.agent_id, "status": "succeeded", "nmap_xml": FIXTURE.read_text()}
    response = agent.post(f"{JOBS}{job['id']}/result/", body, content_type="application/json")
    assert response.json()["status"] == "succeeded"
    with tenant_context(tenant_a):
        found = UnknownDevice.objects.filter(state="new").values_list("ip", flat=True)
        assert sorted(str(ip) for ip in found) == ["127.0.0.0", "127.0.0.1"]
        assert scan_runs().get().counts["outside_subnet"] == 2


@pytest.mark.parametrize(
    ("scan_spec", "refusal"),
    [
        ({"subnet": "127.0.0.0/8", "ports": "22", "timing": 3}, "larger than the /16 limit"),
        ({"subnet": "127.0.0.5/30", "ports": "22", "timing": 3}, "not a network in CIDR form"),
        ({"subnet": "-iL /etc/passwd", "ports": "22", "timing": 3}, "not a network"),
        ({"subnet": "127.0.0.0/30", "ports": "22 -oN /tmp/x", "timing": 3}, "refusing ports"),
        ({"subnet": "127.0.0.0/30", "top_ports": None, "timing": 3}, "refusing top ports"),
        ({"subnet": "127.0.0.0/30", "ports": "22", "timing": "5 --script x"}, "refusing timing"),
    ],
)
def test_the_agent_checks_the_scan_again_and_never_runs_a_refused_one(
    tmp_path, monkeypatch, scan_spec, refusal
):
    bin_dir = recorded_nmap(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    job = {"id": "11111111-1111-4111-8111-111111111111", "action": "network_scan"}
    result = run_job({**job, "scan": scan_spec}, "agent-x", dry_run=False)
    assert result["status"] == "failed" and refusal in result["log"]
    assert "nmap_xml" not in result
    assert not (bin_dir / "args").exists()

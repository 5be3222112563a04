"""Rollback and resume are real: a rollback queues rollback jobs to the agents (or calls the
RMM webhook) and records their results; a halted rollout is resumed by a person allowed to,
with a reason, recorded in the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from integrations.connectors import SIGNATURE_HEADER
from integrations.models import AgentJob, RmmWebhook
from reports.services import render_report
from rings.models import DeploymentResult, RollbackTarget
from rings.selectors import rollout_rows
from tenants.choices import TokenScope
from tests.evidence.pdftext import pdf_pages
from tests.integrations.outbox_helpers import deliver_outbox
from tests.rings.conftest import MONDAY
from tests.rings.producers import (
    BASE,
    advance,
    nightly_window,
    person,
    rollout_body,
    tick,
    wave_of,
)

pytestmark = pytest.mark.django_db

KB = "KB5039212"
NIGHT = MONDAY + timedelta(hours=12, minutes=30)  # 22:30 in Chicago


def _canary_windows(office) -> list[str]:
    return sorted(
        name
        for name, device in office["fleet"].devices.items()
        if office["rings"][name.lower()] == "canary" and device.os == "windows"
    )


def _start(office, engineer, tenant_a, hosts: list[str]) -> str:
    """KB pending on ``hosts`` (ingest opens the findings), a rollout, canary approved."""
    fleet = office["fleet"]
    with time_machine.travel(MONDAY + timedelta(minutes=30), tick=False):
        nightly_window(engineer)
        fleet.missing(KB, *hosts)
        fleet.push(*hosts)
        response = engineer.post(
            f"{BASE}rollouts/",
            {"name": "June", "selection": "patch_identifiers", "patch_identifiers": [KB]},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        rollout = response.json()["id"]
        tick(tenant_a)
        canary = wave_of(rollout_body(engineer, rollout), "canary")
        approved = engineer.post(
            f"{BASE}rollouts/{rollout}/approve/",
            {"wave": canary["id"]},
            content_type="application/json",
        )
        assert approved.status_code == 200, approved.content
    return rollout


def _finding_ids(tenant_a, hosts) -> dict[str, str]:
    with tenant_context(tenant_a):
        return {
            f.asset.hostname: str(f.uuid)
            for f in Finding.objects.filter(
                patch_identifier=KB, asset__hostname__in=[h.lower() for h in hosts]
            ).select_related("asset")
        }


def test_rollback_queues_agent_jobs_and_records_their_results(office, engineer, tenant_a):
    fleet = office["fleet"]
    hosts = _canary_windows(office)
    assert len(hosts) >= 2
    rollout = _start(office, engineer, tenant_a, hosts)
    with time_machine.travel(NIGHT, tick=False):
        body = advance(tenant_a, fleet, engineer, rollout, "canary")
    canary = wave_of(body, "canary")
    assert canary["counts"]["verified"] == len(hosts)
    findings = _finding_ids(tenant_a, hosts)
    with time_machine.travel(NIGHT + timedelta(hours=2), tick=False):
        response = engineer.post(
            f"{BASE}rollouts/{rollout}/rollback/",
            {"wave": canary["id"], "what": "EHR client crashes after the update"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        [rollback] = response.json()["rollbacks"]
        assert rollback["outcome"] == "pending" and rollback["connector"] == "agent"
        assert sorted(t["hostname"] for t in rollback["targets"]) == [h.lower() for h in hosts]
        assert {t["status"] for t in rollback["targets"]} == {"pending"}
        with tenant_context(tenant_a):
            jobs = AgentJob.objects.filter(action="rollback")
            assert jobs.count() == len(hosts)
            assert {j.packages[0]["advisory"] for j in jobs} == {KB}
        # The agents poll their jobs: the first fails to uninstall, the others succeed.
        failing = hosts[0]
        ran = fleet.run_jobs(fail={failing})
        assert ran == {"rollback": len(hosts)}
    body = rollout_body(engineer, rollout)
    [rollback] = body["rollbacks"]
    assert rollback["outcome"] == "partial" and rollback["completed_at"] is not None
    status = {t["hostname"]: t["status"] for t in rollback["targets"]}
    assert status[failing.lower()] == "failed"
    assert {s for h, s in status.items() if h != failing.lower()} == {"rolled_back"}
    canary = wave_of(body, "canary")
    assert canary["counts"]["rolled_back"] == len(hosts) - 1
    assert canary["counts"]["verified"] == 1
    with tenant_context(tenant_a):
        rolled = DeploymentResult.objects.filter(status="rolled_back")
        assert all(r.rolled_back_at is not None for r in rolled)
        # The agents' fresh inventory shows the KB offered again: the findings are open work.
        states = dict(
            Finding.objects.filter(patch_identifier=KB).values_list("asset__hostname", "state")
        )
        assert states[failing.lower()] == "verified"
        assert {s for h, s in states.items() if h != failing.lower()} == {"open"}
        requested = EvidenceEvent.objects.get(kind="rollback.requested")
        assert sorted(requested.payload["findings"]) == sorted(findings.values())
        assert requested.payload["reason"] == "EHR client crashes after the update"
        failed = EvidenceEvent.objects.get(kind="rollback.failed")
        assert failed.payload["findings"] == [findings[failing.lower()]]
        succeeded = EvidenceEvent.objects.filter(kind="rollback.succeeded")
        assert sorted(e.payload["findings"][0] for e in succeeded) == sorted(
            v for h, v in findings.items() if h != failing.lower()
        )
        completed = EvidenceEvent.objects.get(kind="rollback.completed")
        assert completed.payload["outcome"] == "partial"
        # The month's report lists the rollback with its outcome and its devices.
        text = " ".join(pdf_pages(render_report(tenant_a, "monthly", date(2026, 6, 1))))
        assert (
            "by engineer@msp.test: EHR client crashes after the update — Partially succeeded, "
            f"{len(hosts)} devices"
        ) in text
        assert completed.payload["rolled_back"] == len(hosts) - 1
        # Deployment events name the findings they acted on too.
        deployed = EvidenceEvent.objects.filter(kind="deployment.succeeded")
        assert sorted(e.payload["findings"][0] for e in deployed) == sorted(findings.values())
    page = engineer.get(f"/clients/tenant-a/rollouts/{rollout}/").content.decode()
    assert 'data-testid="rollbacks"' in page and "Partially succeeded" in page
    assert "EHR client crashes after the update" in page
    # Nothing more to undo on the same devices twice at once; a bad body changes nothing.
    again = engineer.post(
        f"{BASE}rollouts/{rollout}/rollback/",
        {"what": ""},
        content_type="application/json",
    )
    assert again.status_code == 400


class RmmRecorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        RmmRecorder.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def rmm():
    RmmRecorder.received = []
    httpd = HTTPServer(("127.0.0.1", 0), RmmRecorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/patchops"
    httpd.shutdown()
    httpd.server_close()


def test_rollback_through_the_rmm_webhook(office, engineer, tenant_a, make_token, rmm):
    hosts = _canary_windows(office)
    with tenant_context(tenant_a):
        # Configured by an MSP admin in the Django admin.
        RmmWebhook.objects.create(name="RMM", url=rmm, secret="rmm-secret", max_attempts=1)
    rollout = _start(office, engineer, tenant_a, hosts)
    _, token = make_token(TokenScope.WRITE, tenant_a, name="rmm")
    rmm_api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    with time_machine.travel(NIGHT, tick=False):
        tick(tenant_a)
        deliver_outbox(tenant_a)
        deploy = [json.loads(b) for _, b in RmmRecorder.received if b"wave.deploy" in b]
        while not deploy:  # snapshots of critical members first, confirmed by the RMM
            tick(tenant_a)
            deliver_outbox(tenant_a)
            deploy = [json.loads(b) for _, b in RmmRecorder.received if b"wave.deploy" in b]
        wave_id = deploy[0]["wave"]
        response = rmm_api.post(
            f"{BASE}rollouts/{rollout}/results/",
            {
                "wave": wave_id,
                "results": [{"asset": a["id"], "status": "deployed"} for a in deploy[0]["assets"]],
            },
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        RmmRecorder.received.clear()
        response = engineer.post(
            f"{BASE}rollouts/{rollout}/rollback/",
            {"wave": wave_id, "what": "Vendor pulled the update"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        [rollback] = response.json()["rollbacks"]
        assert rollback["connector"] == "webhook" and rollback["outcome"] == "pending"
        assert RmmRecorder.received == []  # sent after the request, by the delivery task
        deliver_outbox(tenant_a)
    [(headers, raw)] = RmmRecorder.received
    expected = "sha256=" + hmac.new(b"rmm-secret", raw, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    call = json.loads(raw)
    assert call["event"] == "rollout.rollback" and call["rollback"] == rollback["id"]
    assert sorted(a["hostname"] for a in call["assets"]) == [h.lower() for h in hosts]
    assert {a["packages"][0]["advisory"] for a in call["assets"]} == {KB}
    with tenant_context(tenant_a):
        assert not AgentJob.objects.filter(action="rollback").exists()  # the RMM does it
    # The RMM reports back.
    url = f"{BASE}rollouts/{rollout}/rollback-results/"
    results = [{"asset": a["id"], "status": "rolled_back"} for a in call["assets"]]
    bad = {"rollback": rollback["id"], "results": [{"asset": wave_id, "status": "rolled_back"}]}
    assert rmm_api.post(url, bad, content_type="application/json").status_code == 400
    response = rmm_api.post(
        url, {"rollback": rollback["id"], "results": results}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    [rollback] = response.json()["rollbacks"]
    assert rollback["outcome"] == "succeeded"
    assert {t["status"] for t in rollback["targets"]} == {"rolled_back"}
    with tenant_context(tenant_a):
        assert RollbackTarget.objects.filter(status="rolled_back").count() == len(hosts)
        assert EvidenceEvent.objects.get(kind="rollback.completed").payload["outcome"] == (
            "succeeded"
        )


def test_resume_after_a_halt_needs_an_allowed_person_and_a_reason(
    office, engineer, tenant_a, personas, make_token
):
    fleet = office["fleet"]
    workstations = _canary_windows(office)
    # Three canary members need the KB: two workstations and one more Windows machine (the
    # file server when the placement put it in the canary for its role, else a workstation).
    hosts = sorted(
        n
        for n, d in fleet.devices.items()
        if office["rings"][n.lower()] == "canary" and d.os.startswith("windows")
    )
    assert len(hosts) >= 3 and len(workstations) >= 2
    failing, offline = workstations[0], workstations[1]
    fleet.devices[offline].reports = False  # asleep tonight: its job waits
    rollout = _start(office, engineer, tenant_a, hosts)
    with time_machine.travel(NIGHT, tick=False):
        body = advance(tenant_a, fleet, engineer, rollout, "canary", ("halted",), fail={failing})
    assert body["state"] == "halted" and "threshold" in body["halt_reason"]
    canary = wave_of(body, "canary")
    assert canary["counts"]["failed"] == 1 and canary["counts"]["pending"] == 1
    with tenant_context(tenant_a):
        # The halt cancelled the sleeping device's install job.
        job = AgentJob.objects.get(asset__hostname=offline.lower(), action="install")
        assert job.status == "cancelled"
    url = f"{BASE}rollouts/{rollout}/resume/"
    reason = {"reason": "Failure was a full disk on one PC; cleaned up"}
    for who in (personas.owner_a, personas.viewer_a, personas.account_manager):
        response = person(who).post(url, reason, content_type="application/json")
        assert response.status_code == 403, (who, response.content)
    _, token = make_token(TokenScope.WRITE, tenant_a, name="psa")
    token_api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    refused = token_api.post(url, reason, content_type="application/json")
    assert refused.status_code == 403 and "person" in refused.json()["detail"]
    assert engineer.post(url, {"reason": " "}, content_type="application/json").status_code == 400
    assert rollout_body(engineer, rollout)["state"] == "halted"
    # The engineer resumes; the sleeping device wakes up and gets its job again.
    with time_machine.travel(NIGHT + timedelta(hours=1), tick=False):
        response = engineer.post(url, reason, content_type="application/json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["state"] == "active" and body["resume_reason"] == reason["reason"]
        assert body["resumed_by"] == "engineer@msp.test"
        canary = wave_of(body, "canary")
        assert canary["state"] == "deploying" and canary["accepted_failed"] == 1
        fleet.devices[offline].reports = True
        ran = fleet.run_jobs(only={offline})
        assert ran == {"install": 1}
        body = advance(tenant_a, fleet, engineer, rollout, "canary")
    canary = wave_of(body, "canary")
    # The accepted failure does not halt it again; the reported rate still counts it.
    assert body["state"] == "active" and canary["state"] == "soaking"
    assert canary["counts"]["failed"] == 1 and canary["failure_rate"] is not None
    again = engineer.post(url, reason, content_type="application/json")
    assert again.status_code == 400  # only a halted rollout can be resumed
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.get(kind="rollout.resumed")
        assert event.actor == "engineer@msp.test"
        assert event.payload["reason"] == reason["reason"]
        assert event.payload["state"] == "deploying" and event.payload["requeued"] == 1
        assert sorted(event.payload["findings"]) == sorted(_finding_ids(tenant_a, hosts).values())
        halted = EvidenceEvent.objects.get(kind="rollout.halted")
        assert halted.sequence < event.sequence
    page = engineer.get(f"/clients/tenant-a/rollouts/{rollout}/").content.decode()
    assert f"Resumed in canary: {reason['reason']}" in page
    with tenant_context(tenant_a):
        # Reports show each rollout as it stood at their instant: halted before the resume,
        # active with the resume's reason after it.
        month = (NIGHT - timedelta(days=1), NIGHT + timedelta(days=1))
        [before] = rollout_rows(*month, at=NIGHT + timedelta(minutes=30))
        assert before["state"] == "halted" and before["resumed_at"] is None
        assert before["waves"][0]["state"] == "halted"
        [after] = rollout_rows(*month, at=NIGHT + timedelta(hours=3))
        assert after["state"] == "active" and after["resume_reason"] == reason["reason"]
        assert after["waves"][0]["state"] == "soaking" and after["waves"][0]["failed"] == 1
        text = " ".join(pdf_pages(render_report(tenant_a, "monthly", date(2026, 6, 1))))
    assert f"by engineer@msp.test: {reason['reason']}" in text


def test_resume_and_rollback_actions_on_the_page_follow_the_role(
    office, engineer, tenant_a, personas
):
    hosts = _canary_windows(office)
    rollout = _start(office, engineer, tenant_a, hosts)
    fleet = office["fleet"]
    with time_machine.travel(NIGHT, tick=False):
        advance(tenant_a, fleet, engineer, rollout, "canary", ("halted",), fail=set(hosts[:2]))
    board = engineer.get("/clients/tenant-a/rollouts/").content.decode()
    assert 'data-testid="resume"' in board and 'data-testid="rollback-canary"' in board
    owner = person(personas.owner_a)
    page = owner.get("/clients/tenant-a/rollouts/").content.decode()
    assert 'data-testid="resume"' not in page and 'data-testid="rollback-canary"' not in page
    url = f"/clients/tenant-a/rollouts/{rollout}/resume/"
    assert owner.post(url, {"reason": "go"}).status_code == 403
    assert engineer.post(url, {"reason": ""}).status_code == 302  # form error, nothing changes
    assert rollout_body(engineer, rollout)["state"] == "halted"
    response = engineer.post(url, {"reason": "Checked the two PCs", "back": "detail"})
    assert response.status_code == 302 and response["Location"].endswith(f"/{rollout}/")
    assert rollout_body(engineer, rollout)["state"] == "active"
    response = engineer.post(
        f"/clients/tenant-a/rollouts/{rollout}/rollback/",
        {"wave": wave_of(rollout_body(engineer, rollout), "canary")["id"], "what": "Undo"},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert AgentJob.objects.filter(action="rollback").exists()


def test_a_failed_install_rolled_back_still_counts_as_failed(office, engineer, tenant_a):
    """One canary install fails (the rollout halts), then the wave is rolled back on every
    device it touched: the failed device stays failed in the report's rollout row, in the
    deployment counts and in the failure rate per ring; the others stay deployed."""
    from compliance.engine import failure_rates_by_ring
    from rings.selectors import deployment_counts

    fleet = office["fleet"]
    hosts = _canary_windows(office)
    assert len(hosts) >= 2
    failing = hosts[0]
    rollout = _start(office, engineer, tenant_a, hosts)
    with time_machine.travel(NIGHT, tick=False):
        body = advance(tenant_a, fleet, engineer, rollout, "canary", ("halted",), fail={failing})
    canary = wave_of(body, "canary")
    assert body["state"] == "halted"
    assert canary["counts"]["failed"] == 1
    with time_machine.travel(NIGHT + timedelta(hours=1), tick=False):
        response = engineer.post(
            f"{BASE}rollouts/{rollout}/rollback/",
            {"wave": canary["id"], "what": "Undo the half-installed update"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        ran = fleet.run_jobs()
    assert ran == {"rollback": len(hosts)}
    canary = wave_of(rollout_body(engineer, rollout), "canary")
    assert canary["counts"]["rolled_back"] == len(hosts) and canary["counts"]["failed"] == 0
    month = (NIGHT - timedelta(days=1), NIGHT + timedelta(days=1))
    with tenant_context(tenant_a):
        [row] = rollout_rows(*month, at=NIGHT + timedelta(hours=3))
        assert (row["deployed"], row["failed"]) == (len(hosts) - 1, 1)
        assert (row["waves"][0]["deployed"], row["waves"][0]["failed"]) == (len(hosts) - 1, 1)
        assert deployment_counts(*month) == (1, len(hosts))
        by_ring = {r["ring"]: r for r in failure_rates_by_ring(*month)}
        assert (by_ring["canary"]["failed"], by_ring["canary"]["attempted"]) == (1, len(hosts))
        expected = round(100 / len(hosts), 2)
        assert float(by_ring["canary"]["pct"]) == pytest.approx(expected, abs=0.01)

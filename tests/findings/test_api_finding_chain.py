"""GET findings/<id>/chain/ and the chain on the finding page: detection by the agent's report,
each deployment attempt (rollouts whose agent reports through the agent-job API) with its
verification by the next inventory, read through the event contract."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from findings.models import Finding
from tenants.choices import TokenScope
from tests.producers import Device, all_day_window, push_api, roll_out

T = datetime(2026, 6, 3, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
API = "/clients/tenant-a/api/v1/findings/"


@pytest.fixture
def agents(make_token, tenant_a, api):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a, name="clinic-agents")
    from django.test import Client as HttpClient

    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def detected(tenant_a, personas, login, agents):
    """front-desk-01's agent reports KB5031354 missing at T (through discovery/)."""
    with time_machine.travel(T - H, tick=False):
        all_day_window(login(personas.msp_admin))
    device = Device("front-desk-01").missing_kb("KB5031354", severity="critical")
    with time_machine.travel(T, tick=False):
        push_api(agents, device)
    with tenant_context(tenant_a):
        return device, Finding.objects.get(patch_identifier="KB5031354")


def _deploy(finding, personas, agents, *, at, fail=False):
    with time_machine.travel(at, tick=False):
        return roll_out(
            [finding], engineer=personas.engineer, agent_http=agents,
            fail=["front-desk-01"] if fail else [],
        )  # fmt: skip


@pytest.mark.django_db
def test_chain_answers_detection_each_attempt_and_its_verification(
    tenant_a, personas, login, agents, detected
):
    device, finding = detected
    with tenant_context(tenant_a):
        _deploy(finding, personas, agents, at=T + 2 * H, fail=True)  # the install fails
        finding.refresh_from_db()
        _deploy(finding, personas, agents, at=T + 4 * H)  # a second rollout installs it
    with time_machine.travel(T + 6 * H, tick=False):
        push_api(agents, device.install_kb("KB5031354"))  # the next inventory shows the fix
    with tenant_context(tenant_a):
        finding.refresh_from_db()
        assert finding.state == FindingState.VERIFIED
        events = {
            e.kind: e for e in EvidenceEvent.objects.filter(kind__in=[
                "finding.detected", "deployment.failed", "deployment.succeeded",
                "finding.verified",
            ])
        }  # fmt: skip
    body = login(personas.viewer_a).get(f"{API}{finding.uuid}/chain/").json()
    assert body["finding"]["id"] == str(finding.uuid) and body["complete"] is True

    def same(item, event):
        assert item["sequence"] == event.sequence and item["hash"] == event.hash
        assert item["actor"] == event.actor and item["id"] == str(event.uuid)
        assert item["prev_hash"] == event.prev_hash

    same(body["detection"], events["finding.detected"])
    assert body["detection"]["occurred_at"] == "2026-06-03T00:00:00Z"
    assert body["detection"]["stage"] == "detection" and body["detection"]["label"] == "Detected"
    failed, installed = body["deployments"]
    assert failed["outcome"] == "failed" and failed["verification"] is None
    same(failed["event"], events["deployment.failed"])
    assert failed["event"]["occurred_at"] == "2026-06-03T02:00:00Z"
    assert failed["event"]["actor"] == "token:clinic-agents"  # the agent that reported it
    assert installed["outcome"] == "succeeded" and installed["ring"] == "canary"
    same(installed["event"], events["deployment.succeeded"])
    same(installed["verification"], events["finding.verified"])
    same(body["verification"], events["finding.verified"])
    assert body["verification"]["occurred_at"] == "2026-06-03T06:00:00Z"
    assert "KB5031354 installed" in body["verification"]["summary"]
    # Every event naming the finding, in chain order (the deployment's verification by the
    # rollout is among them).
    kinds = [e["kind"] for e in body["events"]]
    assert kinds == ["finding.detected", "deployment.failed", "deployment.succeeded",
                     "finding.verified", "deployment.verified"]  # fmt: skip
    sequences = [e["sequence"] for e in body["events"]]
    assert sequences == sorted(sequences)

    page = login(personas.viewer_a).get(f"/clients/tenant-a/findings/{finding.uuid}/")
    html = page.content.decode()
    assert 'data-testid="chain-complete"' in html
    chain = html.split('data-testid="finding-chain"')[1].split("</table>")[0]
    assert "Deployment 1" in chain and "failed" in chain and "Deployment 2" in chain
    assert "Agent reported the patch installed (ring canary)" in chain
    assert f"#{events['deployment.succeeded'].sequence}" in chain
    assert events["deployment.succeeded"].hash[:12] in chain
    # Times are the client's (Chicago, CDT): detected 3 Jun 00:00Z = 2 Jun 19:00 CDT.
    assert "2026-06-02 19:00:00 CDT" in chain and "token:clinic-agents" in chain
    # Read as sentences, never as raw payload dumps.
    timeline = html.split('data-testid="finding-timeline"')[1].split("</table>")[0]
    assert "KB5031354 missing on front-desk-01: critical" in timeline
    assert "findings:" not in html and "'wave'" not in html and "&#x27;ring&#x27;" not in html


@pytest.mark.django_db
def test_a_rollback_names_the_findings_it_reopens(tenant_a, personas, login, agents, detected):
    from rings.choices import RollbackOutcome
    from rings.services import record_rollback

    _, finding = detected
    with tenant_context(tenant_a):
        rollout = _deploy(finding, personas, agents, at=T + 2 * H)
        wave = rollout.waves.get(ring__key="canary")
        with time_machine.travel(T + 3 * H, tick=False):
            record_rollback(
                rollout=rollout, actor=personas.engineer, what="KB5031354 broke the label printer",
                outcome=RollbackOutcome.SUCCEEDED, wave=wave, assets=[finding.asset],
            )  # fmt: skip
        event = EvidenceEvent.objects.get(kind="rollback.recorded")
        finding.refresh_from_db()
    assert event.payload["findings"] == [str(finding.uuid)]
    assert finding.state == FindingState.OPEN
    body = login(personas.engineer).get(f"{API}{finding.uuid}/chain/").json()
    (attempt,) = body["deployments"]
    assert (
        attempt["outcome"] == "rolled_back" and attempt["rolled_back"]["sequence"] == event.sequence
    )
    assert body["complete"] is False and body["verification"] is None


@pytest.mark.django_db
def test_old_deployment_events_without_findings_still_read(tenant_a, personas, agents, detected):
    """Events recorded before deployment events named their findings keep their payload (the
    hash chain covers it): the chain finds the finding from the wave's rollout and the asset."""
    from evidence.selectors import verify_chain
    from findings.chain import finding_chain
    from reports.services import evidence_chain_context

    _, finding = detected
    with tenant_context(tenant_a):
        rollout = _deploy(finding, personas, agents, at=T + 2 * H, fail=True)
        wave = rollout.waves.get(ring__key="canary")
        _append_as_stored_before(
            kind="deployment.succeeded",
            subject_type="asset",
            subject_id=str(finding.asset.uuid),
            payload={"wave": str(wave.uuid), "ring": "canary", "message": ""},
            occurred_at=T + 3 * H,
        )
        chain = finding_chain(finding)
        context = evidence_chain_context(tenant_a, date(2026, 6, 1))
        assert verify_chain().ok
    assert [a.succeeded for a in chain.attempts] == [False, True]
    assert chain.deployment.occurred_at == T + 3 * H
    row = next(r for r in context["chain_rows"] if r["finding_id"] == str(finding.uuid))
    assert row["deployed"].sequence == chain.deployment.sequence


def _append_as_stored_before(**fields) -> EvidenceEvent:
    """An event exactly as the previous version of the rollout code stored it (no findings in
    its payload; today's contract refuses that shape, so it goes in as history does)."""
    from evidence.models import GENESIS_HASH

    last = EvidenceEvent.objects.order_by("-sequence").first()
    event = EvidenceEvent(
        sequence=last.sequence + 1 if last else 1,
        actor="token:clinic-agents",
        prev_hash=last.hash if last else GENESIS_HASH,
        **fields,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    return event


@pytest.mark.django_db
def test_chain_of_an_unknown_or_other_clients_finding_is_404(tenant_b, personas, login, http):
    assert http.get(f"{API}00000000-0000-0000-0000-000000000000/chain/").status_code == 401
    client = login(personas.viewer_a)
    assert client.get(f"{API}00000000-0000-0000-0000-000000000000/chain/").status_code == 404
    assert client.get(f"{API}not-a-uuid/chain/").status_code == 404
    with tenant_context(tenant_b), time_machine.travel(T, tick=False):
        from tests.producers import push

        push(Device("berlin-01").missing_kb("KB5031355"))
        other = Finding.objects.get()
    assert login(personas.owner_a).get(f"{API}{other.uuid}/chain/").status_code == 404
    assert login(personas.owner_b).get(f"{API}{other.uuid}/chain/").status_code == 404

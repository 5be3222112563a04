"""Restarts in the asset API: an agent's job report leaves a restart pending under the manual
approval policy; the asset API shows it (pending, since when, awaiting approval), filters on it,
and a write token approves it — the same service as the asset page's button, so the same
``reboot`` job for the agent's next poll and the same ``asset.reboot_approved`` event."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from common.choices import OsFamily
from evidence.models import EvidenceEvent
from findings.choices import RebootPolicy
from integrations.models import AgentJob
from tenants.choices import TokenScope
from tests.integrations.test_reboot_policies import RAN, _canary_jobs, _installed, _poll, _post

pytestmark = pytest.mark.django_db

ASSETS = "/clients/tenant-a/api/v1/assets/"


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _bearer(make_token, scope: str, tenant) -> HttpClient:
    _, plaintext = make_token(scope, tenant, name=f"reboot-{scope}")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_a_pending_restart_is_listed_filtered_and_approved_through_the_api(
    tenant_a, personas, make_token, api
):
    _, token = make_token(TokenScope.AGENT, tenant_a)
    agent = api(token)
    _rollout, assets, _ = _canary_jobs(tenant_a, personas, RebootPolicy.MANUAL_APPROVAL, agent)
    agent_id, asset = next(
        (k, a) for k, a in sorted(assets.items()) if a.os_family == OsFamily.LINUX
    )
    reader = _bearer(make_token, TokenScope.READ, tenant_a)
    writer = _bearer(make_token, TokenScope.WRITE, tenant_a)
    approve = f"{ASSETS}{asset.uuid}/approve-reboot/"

    # Before the job report nothing is pending and there is nothing to approve.
    before = reader.get(f"{ASSETS}{asset.uuid}/").json()
    assert before["reboot_pending"] is False and before["reboot_pending_since"] is None
    assert before["reboot_approval"] == ""
    assert reader.get(ASSETS, {"reboot_pending": "true"}).json()["count"] == 0
    refused = writer.post(approve)
    assert refused.status_code == 400 and "no restart awaiting approval" in refused.json()["detail"]

    with time_machine.travel(RAN, tick=False):
        (job,) = _poll(agent, agent_id)
        _post(agent, job, _installed(job, agent_id, reboot_required=True))

    row = reader.get(f"{ASSETS}{asset.uuid}/").json()
    assert row["reboot_pending"] is True
    assert row["reboot_pending_since"] == _iso(RAN)
    assert row["reboot_approval"] == "awaiting"
    assert row["reboot_approved_by"] == "" and row["reboot_approved_at"] is None
    pending = reader.get(ASSETS, {"reboot_pending": "true"}).json()
    assert [r["hostname"] for r in pending["results"]] == [asset.hostname]
    not_pending = reader.get(ASSETS, {"reboot_pending": "false", "limit": 500}).json()
    assert asset.hostname not in {r["hostname"] for r in not_pending["results"]}
    assert not_pending["count"] == reader.get(ASSETS).json()["count"] - 1
    awaiting = reader.get(ASSETS, {"reboot_approval": "awaiting"}).json()
    assert [r["hostname"] for r in awaiting["results"]] == [asset.hostname]

    # A read token and an agent token may not approve; nothing is queued.
    assert reader.post(approve).status_code == 403
    assert agent.post(approve).status_code == 403
    with tenant_context(tenant_a):
        assert not AgentJob.objects.filter(asset=asset, action="reboot").exists()
    assert (
        writer.post(f"{ASSETS}00000000-0000-4000-8000-000000000000/approve-reboot/").status_code
        == 404
    )

    approved_at = RAN + timedelta(hours=1)
    with time_machine.travel(approved_at, tick=False):
        answer = writer.post(approve)
        assert answer.status_code == 200, answer.content
        again = writer.post(approve)
    body = answer.json()
    assert body["asset"]["reboot_approval"] == "approved"
    assert body["asset"]["reboot_approved_by"] == "token:reboot-write"
    assert body["asset"]["reboot_approved_at"] == _iso(approved_at)
    assert body["asset"]["reboot_pending"] is True
    assert again.status_code == 400
    with tenant_context(tenant_a):
        (reboot_job,) = AgentJob.objects.filter(asset=asset, action="reboot")
        assert str(reboot_job.uuid) == body["job"]
        event = EvidenceEvent.objects.get(kind="asset.reboot_approved")
        assert event.subject_id == str(asset.uuid)
        assert event.actor == "token:reboot-write"
        assert event.payload["job"] == body["job"]
        assert event.payload["pending_since"] == RAN.isoformat()
    # Changed since the approval: the incremental sync answers the asset.
    since = reader.get(ASSETS, {"updated_since": _iso(approved_at)}).json()
    assert [r["hostname"] for r in since["results"]] == [asset.hostname]
    with time_machine.travel(approved_at + timedelta(minutes=5), tick=False):
        (carried,) = _poll(agent, agent_id)
    assert carried["id"] == body["job"] and carried["reboot"]["approved"] is True

"""Deployment is not verification: an agent job's result marks findings deployed, the next
inventory push that shows the fix verifies them, and the compliance engine counts the outcome.
Everything goes through the API an agent uses (agent jobs, discovery push)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from common.choices import OsFamily
from compliance import engine
from findings.choices import FindingState
from integrations.models import AgentJob
from rings.choices import DeploymentStatus, RolloutSelection, WaveState
from rings.models import Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tenants.choices import TokenScope
from tests.producers import maintenance_window, office

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # 22:30 in Chicago
JOBS = "/clients/tenant-a/api/v1/agent-jobs/"
DISCOVERY = "/clients/tenant-a/api/v1/discovery/"


def _result(job: AgentJob, status: str) -> dict:
    return {
        "agent_id": job.agent_id,
        "status": status,
        "dry_run": False,
        "started_at": "2026-06-03T03:31:00Z",
        "finished_at": "2026-06-03T03:35:00Z",
        "packages": [
            {
                "name": "KB5030001",
                "version": "",
                "status": "installed" if status == "succeeded" else "failed",
                "message": "" if status == "succeeded" else "0x80070005",
            }
        ],
        "log": "Windows Update: 1 update",
    }


def _inventory(asset, hotfixes: list[str]) -> dict:
    return {
        "agent_id": asset.agent_id,
        "collected_at": "2026-06-03T05:00:00Z",
        "system_info": {"hostname": asset.hostname},
        "os_version": {"name": asset.os_name or "Microsoft Windows 11 Pro", "build": "22631"},
        "patches": [{"hotfix_id": kb, "installed_on": "6/3/2026"} for kb in hotfixes],
    }


def test_agent_result_then_inventory_verifies_and_feeds_failure_rate(
    tenant_a, personas, make_token, api
):
    with tenant_context(tenant_a), time_machine.travel(NIGHT, tick=False):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="June",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        wave = Wave.objects.select_related("ring").get(rollout=rollout, ring__key="canary")
        approve_wave(wave=wave, user=personas.engineer)
        evaluate_rollout(rollout=rollout)
        wave.refresh_from_db()
        assert wave.state == WaveState.DEPLOYING
        jobs = list(
            AgentJob.objects.filter(wave=wave, action="install")
            .select_related("asset")
            .order_by("agent_id")
        )
    windows = [j for j in jobs if j.asset.os_family == OsFamily.WINDOWS]
    assert windows and len(jobs) >= 2
    ok = windows[0]
    failed = next(j for j in jobs if j.pk != ok.pk)

    _, agent = make_token(TokenScope.AGENT, tenant_a)
    http = api(agent)
    with time_machine.travel(NIGHT + timedelta(minutes=10), tick=False):
        for job in jobs:
            status = "failed" if job.pk == failed.pk else "succeeded"
            response = http.post(
                f"{JOBS}{job.uuid}/result/", _result(job, status), content_type="application/json"
            )
            assert response.status_code == 200, response.content
    with tenant_context(tenant_a):
        finding = rollout.findings.get(asset=ok.asset)
        assert finding.state == FindingState.DEPLOYED and finding.verified_at is None

    # The next inventory from the same agent shows the KB installed.
    with time_machine.travel(NIGHT + timedelta(hours=1), tick=False):
        response = http.post(
            DISCOVERY, _inventory(ok.asset, ["KB5030001"]), content_type="application/json"
        )
        assert response.status_code in (200, 201), response.content
        with tenant_context(tenant_a):
            evaluate_rollout(rollout=rollout)  # what the promotion beat runs

    with tenant_context(tenant_a):
        finding.refresh_from_db()
        assert finding.state == FindingState.VERIFIED
        assert finding.verified_at == NIGHT + timedelta(hours=1)
        assert finding.deployed_at is not None and finding.deployed_at < finding.verified_at
        result = wave.results.get(asset=ok.asset)
        assert result.status == DeploymentStatus.VERIFIED
        assert result.verified_at == finding.verified_at
        # The failed asset's finding stays open: nothing but verification closes it.
        assert rollout.findings.get(asset=failed.asset).state != FindingState.VERIFIED

        figures = engine.compute(client=tenant_a, at=NIGHT + timedelta(days=1))
        assert (figures.deployments_failed, figures.deployments_attempted) == (1, len(jobs))
        by_ring = {r["ring"]: r for r in figures.failure_rate_by_ring}
        assert by_ring["canary"]["failed"] == 1 and by_ring["canary"]["attempted"] == len(jobs)
        assert by_ring["canary"]["pct"] == engine.pct(1, len(jobs))
        body = figures.as_dict()["patch_failure_rate"]
        assert body["failed"] == 1 and body["by_ring"][0]["ring"] == "canary"

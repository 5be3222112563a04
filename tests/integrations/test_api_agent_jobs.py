"""The agent job channel end to end through the API: poll, dry run, real run, failure rate."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from integrations.models import AgentJob
from rings.choices import DeploymentStatus, RolloutSelection, WaveState
from rings.models import Wave
from rings.selectors import deployment_counts, failure_rate
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tenants.choices import TokenScope
from tests.producers import maintenance_window, office

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # 22:30 in Chicago
URL = "/clients/tenant-a/api/v1/agent-jobs/"


@pytest.fixture
def deploying(tenant_a, personas):
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
        return rollout, wave


def _report(http, job_id, agent_id, status="succeeded", dry_run=False, **extra):
    body = {
        "agent_id": agent_id,
        "status": status,
        "dry_run": dry_run,
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
        **extra,
    }
    return http.post(f"{URL}{job_id}/result/", body, content_type="application/json")


def test_agent_polls_dry_runs_then_installs(deploying, tenant_a, make_token, api):
    rollout, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    http = api(plaintext)
    with tenant_context(tenant_a):
        job = AgentJob.objects.filter(wave=wave, action="install").order_by("agent_id").first()
        agent_id, asset = job.agent_id, job.asset
    # Poll: only this agent's queued jobs, marked dispatched.
    body = http.get(URL, {"agent_id": agent_id}).json()
    assert body["count"] == 1
    [item] = body["results"]
    assert set(item) == {
        "id",
        "action",
        "packages",
        "reboot_policy",
        "reboot",
        "scan",
        "not_before",
        "not_after",
    }
    assert item["action"] == "install" and item["packages"][0]["advisory"] == "KB5030001"
    assert item["reboot_policy"] == "user_prompted"
    assert item["reboot"]["policy"] == "user_prompted" and item["reboot"]["snoozes"] == 3
    assert item["not_before"].startswith("2026-06-03T03:00")  # 22:00 CDT
    assert http.get(URL, {"agent_id": agent_id}).json()["count"] == 0  # handed out once
    # Dry run: recorded, never deployed; the job goes back to the queue.
    response = _report(http, item["id"], agent_id, dry_run=True)
    assert response.status_code == 200, response.content
    assert response.json()["dry_runs"] == 1 and response.json()["status"] == "queued"
    with tenant_context(tenant_a):
        result = wave.results.get(asset=asset)
        assert result.status == DeploymentStatus.PENDING and result.deployed_at is None
        assert rollout.findings.get(asset=asset).state == FindingState.SCHEDULED
        assert EvidenceEvent.objects.filter(kind="agent_job.dry_run").count() == 1
    # Real run.
    assert http.get(URL, {"agent_id": agent_id}).json()["count"] == 1
    response = _report(http, item["id"], agent_id)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    with tenant_context(tenant_a):
        result.refresh_from_db()
        assert result.status == DeploymentStatus.DEPLOYED and result.deployed_at is not None
        assert result.verified_at is None  # verification comes from the next inventory
        assert rollout.findings.get(asset=asset).state == FindingState.DEPLOYED
    # A second report of the same job is refused.
    assert _report(http, item["id"], agent_id).status_code == 400


def test_failed_job_feeds_the_failure_rate(deploying, tenant_a, make_token, api):
    _, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    http = api(plaintext)
    with tenant_context(tenant_a):
        jobs = list(AgentJob.objects.filter(wave=wave, action="install").order_by("agent_id"))
    with time_machine.travel(NIGHT + timedelta(minutes=10), tick=False):
        for index, job in enumerate(jobs):
            status = "failed" if index == 0 else "succeeded"
            assert _report(http, job.uuid, job.agent_id, status=status).status_code == 200
    with tenant_context(tenant_a):
        failed = wave.results.get(status=DeploymentStatus.FAILED)
        assert "0x80070005" in failed.message
        start, end = NIGHT - timedelta(days=1), NIGHT + timedelta(days=1)
        assert deployment_counts(start, end) == (1, len(jobs))
        canary = wave.ring
        expected = round(100 / len(jobs), 2)
        assert float(failure_rate(canary, start, end)) == pytest.approx(expected, abs=0.01)
        assert failure_rate(None, end, end + timedelta(days=1)) is None


def test_result_from_another_agent_is_refused(deploying, tenant_a, make_token, api):
    _, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    with tenant_context(tenant_a):
        job = AgentJob.objects.filter(wave=wave).first()
    response = _report(api(plaintext), job.uuid, "someone-else")
    assert response.status_code == 400 and "agent_id" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"agent_id": "x", "status": "maybe"},
        {"status": "succeeded"},
        {"agent_id": "x", "status": "succeeded", "packages": [{"name": "a", "status": "odd"}]},
        {
            "agent_id": "x",
            "status": "succeeded",
            "started_at": "2026-06-03T04:00:00Z",
            "finished_at": "2026-06-03T03:00:00Z",
        },
    ],
)
def test_bad_result_is_a_json_400(deploying, tenant_a, make_token, api, body):
    _, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    with tenant_context(tenant_a):
        job = AgentJob.objects.filter(wave=wave).first()
    response = api(plaintext).post(
        f"{URL}{job.uuid}/result/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert isinstance(response.json(), dict)


def test_poll_without_agent_id_is_400(tenant_a, make_token, api):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    response = api(plaintext).get(URL)
    assert response.status_code == 400 and "agent_id" in response.json()


def test_agent_jobs_access(tenant_a, tenant_b, make_token, api, http, login, personas):
    assert http.get(URL, {"agent_id": "x"}).status_code == 401
    _, read = make_token(TokenScope.READ, tenant_a)
    assert api(read).get(URL, {"agent_id": "x"}).status_code == 403
    _, other = make_token(TokenScope.AGENT, tenant_b, name="b-agent")
    assert api(other).get(URL, {"agent_id": "x"}).status_code == 404
    http.defaults.pop("HTTP_AUTHORIZATION", None)
    assert login(personas.engineer).get(URL, {"agent_id": "x"}).status_code == 403


def test_jobs_before_their_window_stay_queued(deploying, tenant_a, make_token, api):
    _, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    with tenant_context(tenant_a):
        job = AgentJob.objects.filter(wave=wave).first()
    with time_machine.travel(NIGHT - timedelta(hours=2), tick=False):  # 20:30, window at 22:00
        assert api(plaintext).get(URL, {"agent_id": job.agent_id}).json()["count"] == 0
    with tenant_context(tenant_a):
        job.refresh_from_db()
        assert job.status == "queued"


def test_report_after_the_window_closed_is_not_a_failure(deploying, tenant_a, make_token, api):
    """The agent's own protocol: nothing run, every package skipped, status failed, null
    versions and extra keys such as reboot_required."""
    _, wave = deploying
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    with tenant_context(tenant_a):
        job = AgentJob.objects.filter(wave=wave).first()
    body = {
        "agent_id": job.agent_id,
        "status": "failed",
        "dry_run": False,
        "packages": [
            {"name": "KB5030001", "version": None, "status": "skipped", "message": "closed"}
        ],
        "log": "the job's window closed",
        "reboot_required": False,
    }
    with time_machine.travel(job.not_after + timedelta(hours=1), tick=False):
        response = api(plaintext).post(
            f"{URL}{job.uuid}/result/", body, content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "expired"
    with tenant_context(tenant_a):
        result = wave.results.get(asset=job.asset)
        assert result.status == DeploymentStatus.PENDING  # caught up in the next window
        assert wave.failure_rate() is None

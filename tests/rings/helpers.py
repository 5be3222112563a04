"""Drive waves in tests: agent results, inventory verification and runbook checks."""

from __future__ import annotations

from django.utils import timezone

from findings.choices import FindingState
from integrations.choices import JobAction, JobStatus
from integrations.models import AgentJob
from integrations.services import record_job_result
from rings.models import RunbookCheck, Wave
from rings.services import record_runbook_check


def report_jobs(wave: Wave, *, fail: int = 0, action: str = JobAction.INSTALL) -> int:
    """Agents report every open job of the wave: the first ``fail`` fail, the rest succeed."""
    jobs = list(
        AgentJob.objects.filter(
            wave=wave, action=action, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
        ).order_by("asset__hostname")
    )
    for index, job in enumerate(jobs):
        status = "failed" if index < fail else "succeeded"
        record_job_result(
            job=job,
            actor=f"token:agent-{job.agent_id}",
            payload={
                "agent_id": job.agent_id,
                "status": status,
                "dry_run": False,
                "packages": [
                    {
                        "name": p["name"],
                        "version": p["version"],
                        "status": "installed" if status == "succeeded" else "failed",
                    }
                    for p in job.packages
                ],
                "log": "ok",
            },
        )
    return len(jobs)


def verify_by_inventory(wave: Wave) -> int:
    """What the next inventory does for deployed findings: it proves them verified."""
    now = timezone.now()
    return wave.rollout.findings.filter(
        asset__in=wave.results.values("asset"), state=FindingState.DEPLOYED
    ).update(state=FindingState.VERIFIED, verified_at=now)


def pass_runbook(wave: Wave, actor: str = "engineer@msp.test") -> None:
    for check in RunbookCheck.objects.filter(is_active=True):
        record_runbook_check(wave=wave, check=check, passed=True, actor=actor)

"""Drive waves in tests: agent results (the service the agent-job API calls) and runbook
checks. Verification is the next inventory (``tests.producers.Office.verify_wave``)."""

from __future__ import annotations

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


def pass_runbook(wave: Wave, actor: str = "engineer@msp.test") -> None:
    for check in RunbookCheck.objects.filter(is_active=True):
        record_runbook_check(wave=wave, check=check, passed=True, actor=actor)

"""Write side of integrations: the PSA outbox, agent job dispatch and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from evidence.services import record_event

from . import hooks
from .choices import JobAction, JobStatus, TicketCategory, TicketPriority
from .models import AgentJob, PsaTicket
from .reboot import record_reboot_report
from .scans import record_scan_result

__all__ = ["is_after_hours", "open_ticket", "claim_agent_jobs", "record_job_result"]


def is_after_hours(at: datetime, client: Any) -> bool:
    """Outside the client's business hours in its own time zone; Saturdays and Sundays count as
    outside business hours all day."""
    local = at.astimezone(client.tz)
    if local.weekday() >= 5:
        return True
    start, end = client.business_hours_start, client.business_hours_end
    if isinstance(start, str):  # unsaved defaults
        start = datetime.strptime(start, "%H:%M").time()
        end = datetime.strptime(end, "%H:%M").time()
    return not (start <= local.time() < end)


def open_ticket(
    *,
    category: str,
    summary: str,
    description: str = "",
    priority: str = TicketPriority.MEDIUM,
    related: dict[str, Any] | None = None,
    at: datetime | None = None,
    actor: Any = "system:integrations",
) -> PsaTicket:
    """Queue a ticket for the PSA; the after-hours flag is fixed at creation."""
    at = at or timezone.now()
    if category not in TicketCategory.values:
        raise ValidationError({"category": f"Unknown category “{category}”."})
    if priority not in TicketPriority.values:
        raise ValidationError({"priority": f"Unknown priority “{priority}”."})
    if not summary.strip():
        raise ValidationError({"summary": "A ticket needs a summary."})
    client = getattr(connection, "tenant", None)
    with transaction.atomic():
        ticket = PsaTicket.objects.create(
            category=category,
            summary=summary.strip()[:250],
            description=description,
            priority=priority,
            related=related or {},
            created_at=at,
            is_after_hours=is_after_hours(at, client) if client is not None else False,
        )
        record_event(
            kind="ticket.queued",
            subject_type="psa_ticket",
            subject_id=ticket.uuid,
            actor=actor,
            payload={
                "category": category,
                "summary": ticket.summary,
                "priority": priority,
                "after_hours": ticket.is_after_hours,
                "related": ticket.related,
            },
            occurred_at=at,
        )
    return ticket


def claim_agent_jobs(
    *, agent_id: str, at: datetime | None = None, limit: int = 50
) -> list[AgentJob]:
    """The agent's queued jobs, marked dispatched (each is handed out once)."""
    at = at or timezone.now()
    if not agent_id:
        raise ValidationError({"agent_id": "Give the agent_id of the device."})
    with transaction.atomic():
        ids = list(
            AgentJob.objects.select_for_update(skip_locked=True)
            .filter(agent_id=agent_id, status=JobStatus.QUEUED)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=at))
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        AgentJob.objects.filter(pk__in=ids, status=JobStatus.QUEUED).update(
            status=JobStatus.DISPATCHED, dispatched_at=at
        )
        return list(AgentJob.objects.filter(pk__in=ids).order_by("created_at"))


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _window_missed(job: AgentJob, packages: list[dict], succeeded: bool, at: datetime) -> bool:
    return (
        not succeeded
        and bool(packages)
        and all(p.get("status") == "skipped" for p in packages)
        and job.not_after is not None
        and at >= job.not_after
    )


def record_job_result(
    *, job: AgentJob, payload: dict[str, Any], actor: Any, at: datetime | None = None
) -> AgentJob:
    """Apply an agent's report. Dry runs are recorded and put the job back in the queue; they
    never mark anything deployed. Real runs feed the deployment result and the failure rate."""
    at = at or timezone.now()
    if payload["agent_id"] != job.agent_id:
        raise ValidationError({"agent_id": "This job belongs to another agent."})
    succeeded = payload["status"] == "succeeded"
    packages = payload.get("packages") or []
    summary = {
        "status": payload["status"],
        "started_at": _iso(payload.get("started_at")),
        "finished_at": _iso(payload.get("finished_at")),
        "packages": packages,
        "log": (payload.get("log") or "")[-20000:],
        "reported_at": at.isoformat(),
    }
    with transaction.atomic():
        if payload.get("dry_run"):
            updated = AgentJob.objects.filter(
                pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
            ).update(status=JobStatus.QUEUED, dry_run_results=[*job.dry_run_results, summary])
            if not updated:
                raise ValidationError({"detail": f"This job is already {job.status}."})
            record_event(
                kind="agent_job.dry_run",
                subject_type="agent_job",
                subject_id=job.uuid,
                actor=actor,
                payload={"status": payload["status"], "packages": packages},
                occurred_at=at,
            )
            job.refresh_from_db()
            return job
        if _window_missed(job, packages, succeeded, at):
            # The agent came online after the window closed and ran nothing: not an attempt.
            # The wave re-issues the job for the asset's next window (and notes the catch-up).
            updated = AgentJob.objects.filter(
                pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
            ).update(status=JobStatus.EXPIRED, finished_at=at, result=summary)
            if not updated:
                raise ValidationError({"detail": f"This job is already {job.status}."})
            record_event(
                kind="agent_job.expired",
                subject_type="agent_job",
                subject_id=job.uuid,
                actor=actor,
                payload={"not_after": _iso(job.not_after)},
                occurred_at=at,
            )
            job.refresh_from_db()
            return job
        if job.action == JobAction.NETWORK_SCAN:
            return _record_network_scan(job, summary, payload, actor, at)
        new_status = JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED
        updated = AgentJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
        ).update(status=new_status, finished_at=at, result=summary)
        if not updated:
            raise ValidationError({"detail": f"This job is already {job.status}."})
        record_event(
            kind=f"agent_job.{new_status}",
            subject_type="agent_job",
            subject_id=job.uuid,
            actor=actor,
            payload={"action": job.action, "packages": packages},
            occurred_at=at,
        )
        record_reboot_report(job=job, reboot_required=payload.get("reboot_required", False), at=at)
        if job.action == JobAction.REBOOT:
            job.refresh_from_db()
            return job
        failed = [p for p in packages if p.get("status") == "failed"]
        message = "; ".join(f"{p.get('name')}: {p.get('message', '')}".strip() for p in failed)
        # The rollout's side (deployment, snapshot or rollback outcome): rings, via hooks.
        hooks.job_result(
            job=job, succeeded=succeeded, failed=failed, message=message, actor=actor, at=at
        )
        job.refresh_from_db()
    return job


def _record_network_scan(
    job: AgentJob, summary: dict[str, Any], payload: dict[str, Any], actor: Any, at: datetime
) -> AgentJob:
    """A scan job's report (caller's transaction): its Nmap XML reconciled with the inventory,
    or the failure recorded on the job and a failed discovery run."""
    xml = payload.get("nmap_xml") or ""
    new_status, message, run = record_scan_result(
        job=job, summary=summary, nmap_xml=xml, actor=actor, at=at
    )
    result = {
        **summary,
        "status": new_status,
        "message": message[:1000],
        "discovery_run": str(run.uuid),
        "nmap_xml_bytes": len(xml.encode("utf-8")),
    }
    updated = AgentJob.objects.filter(
        pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
    ).update(status=new_status, finished_at=at, result=result)
    if not updated:
        raise ValidationError({"detail": f"This job is already {job.status}."})
    record_event(
        kind=f"agent_job.{new_status}",
        subject_type="agent_job",
        subject_id=job.uuid,
        actor=actor,
        payload={"action": job.action, "packages": []},
        occurred_at=at,
    )
    job.refresh_from_db()
    return job

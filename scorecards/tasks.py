"""Celery entry points of the scorecards (thin: load, call one service, return a small dict).

The task names keep the ``patchops.`` prefix they were scheduled under."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from .services import record_scorecard


@shared_task(
    name="patchops.record_scorecard",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def record_scorecard_task(client_id: int) -> dict:
    """Write today's scorecard row of one client (runs in the client's schema)."""
    client = Client.objects.get(pk=client_id)
    row = record_scorecard(client=client, at=timezone.now())
    return {
        "client": client.slug,
        "date": row.date.isoformat(),
        "compliance_pct": str(row.compliance_pct),
    }


@shared_task(name="patchops.dispatch_scorecards")
def dispatch_scorecards() -> dict:
    """Send one ``patchops.record_scorecard`` per client (daily, from beat)."""
    sent = dispatch_per_client(record_scorecard_task, select=lambda c: {"client_id": c.pk})
    return {"dispatched": len(sent)}


@shared_task(
    name="scorecards.write_weekly_rollups",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def write_weekly_rollups_task(client_id: int) -> dict:
    """Store the week that closed in the client's zone and refresh the running one (hourly)."""
    from .weekly import write_due_weekly_rollups

    client = Client.objects.get(pk=client_id)
    written = write_due_weekly_rollups(client, at=timezone.now())
    return {"client": client.slug, "weeks": [d.isoformat() for d in written]}


@shared_task(name="scorecards.dispatch_weekly_rollups")
def dispatch_weekly_rollups() -> dict:
    """Send one ``scorecards.write_weekly_rollups`` per client (hourly, from beat)."""
    sent = dispatch_per_client(write_weekly_rollups_task, select=lambda c: {"client_id": c.pk})
    return {"dispatched": len(sent)}

"""Celery entry points of the patch core (thin: load, call one service, return a small dict)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from scorecards.services import record_scorecard
from tenants.models import Client


@shared_task(name="patchops.record_scorecard", acks_late=True, soft_time_limit=300, time_limit=360)
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
    connection.set_schema_to_public()
    sent = 0
    for client in Client.objects.exclude(schema_name="public").order_by("pk"):
        with tenant_context(client):
            record_scorecard_task.apply_async(args=[client.pk])
        sent += 1
    return {"dispatched": sent}

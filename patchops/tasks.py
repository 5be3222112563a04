"""Celery entry points of the patch core (thin: load, call one service, return a small dict)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from scorecards.services import record_scorecard
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from .pipeline import client_asset_ids, refresh_findings


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
    name="patchops.refresh_client_findings",
    acks_late=True,
    soft_time_limit=900,
    time_limit=960,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def refresh_client_findings(client_id: int) -> dict:
    """Re-match every asset of one client against the catalogue (runs in the client's schema)."""
    client = Client.objects.get(pk=client_id)
    with tenant_context(client), transaction.atomic():
        summary = refresh_findings(asset_ids=client_asset_ids(), at=timezone.now())
    return {"client": client.slug, **summary.as_dict()}


@shared_task(name="patchops.dispatch_refresh_findings")
def dispatch_refresh_findings() -> dict:
    """Send one ``patchops.refresh_client_findings`` per client (after a catalogue change)."""
    sent = dispatch_per_client(refresh_client_findings, select=lambda c: {"client_id": c.pk})
    return {"dispatched": len(sent)}


def on_catalogue_changed(sender: object, record: object = None, **kwargs: object) -> None:
    """Receiver of ``catalogue.signals.catalogue_changed``: re-match every client."""
    dispatch_refresh_findings.apply_async()

"""Celery entry points of the findings app (thin: load, call one service, return a small dict)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from .pipeline import client_asset_ids, refresh_findings
from .sla_watch import announce_sla_milestones


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


@shared_task(
    name="findings.sla_watch",
    acks_late=True,
    soft_time_limit=600,
    time_limit=660,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def sla_watch() -> dict:
    """Announce the current client's findings due soon or overdue (once per due time)."""
    return announce_sla_milestones().as_dict()


@shared_task(name="findings.dispatch_sla_watch")
def dispatch_sla_watch() -> dict:
    """Beat entry: run the SLA watch in every client."""
    return {"dispatched": len(dispatch_per_client(sla_watch))}

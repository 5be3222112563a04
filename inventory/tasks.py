"""Celery entry points of the inventory app (thin: load, call one service, return a dict)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.utils import timezone

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from common.locks import held_lock
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from . import services
from .models import InventorySnapshot
from .schedule import snapshot_month
from .selectors import is_discovery_due


def _current_client() -> Client:
    return Client.objects.get(schema_name=connection.schema_name)


@shared_task(name="inventory.dispatch_discovery")
def dispatch_discovery() -> dict:
    """Send ``run_discovery`` for every client whose scheduled slot has passed."""

    now = timezone.now()
    sent = dispatch_per_client(
        run_discovery, select=lambda client: is_discovery_due(client=client, now=now)
    )
    return {"sent": sent}


@shared_task(
    name="inventory.run_discovery",
    acks_late=True,
    soft_time_limit=900,
    time_limit=960,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def run_discovery() -> dict:
    """The scheduled discovery of the current client: pull sources and staleness."""

    with held_lock("inventory:discovery") as held:
        if not held:
            return {"skipped": "already running"}
        run = services.run_scheduled_discovery(client=_current_client())
    return {"run": str(run.uuid), "status": run.status, "counts": run.counts}


@shared_task(name="inventory.mark_stale_assets")
def mark_stale_assets() -> dict:

    client = _current_client()
    return {"turned_stale": services.mark_stale_assets(stale_after_days=client.stale_after_days)}


@shared_task(name="inventory.dispatch_snapshots")
def dispatch_snapshots() -> dict:
    """Send ``create_monthly_snapshot`` for clients without this month's scheduled snapshot."""

    now = timezone.now()

    def missing_this_month(client: Client) -> bool:
        month = snapshot_month(now=now, tz=client.tz)
        return not InventorySnapshot.objects.filter(month=month, is_scheduled=True).exists()

    return {"sent": dispatch_per_client(create_monthly_snapshot, select=missing_this_month)}


@shared_task(name="inventory.create_monthly_snapshot", acks_late=True, **RETRY_ON_DEPENDENCY_ERRORS)
def create_monthly_snapshot() -> dict:

    snapshot = services.create_snapshot(client=_current_client(), scheduled=True)
    return {"snapshot": str(snapshot.uuid), "csv_sha256": snapshot.csv_sha256}

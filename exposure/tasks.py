"""Thin Celery entry points of exposure monitoring."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from tenants.dispatch import dispatch_per_client
from tenants.models import Client
from tenants.tiers import tier_of

from . import services


def _monitored(client: Client) -> bool:
    return tier_of(client).exposure_monitoring


@shared_task(name="exposure.dispatch_overdue")
def dispatch_overdue() -> dict:
    """Beat entry: the clients whose plan monitors exposures check their response clocks."""
    return {"clients": len(dispatch_per_client(watch_overdue, select=_monitored))}


@shared_task(name="exposure.watch_overdue", **RETRY_ON_DEPENDENCY_ERRORS)
def watch_overdue() -> dict:
    return {"schema": connection.schema_name, "overdue": services.watch_overdue()}

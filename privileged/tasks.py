"""Thin Celery entry points of the privileged account register."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.utils import timezone

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from . import services


@shared_task(name="privileged.dispatch_overdue")
def dispatch_overdue() -> dict:
    """Beat entry: detect overdue rotations and reviews in every client."""
    return {"clients": len(dispatch_per_client(detect_overdue))}


@shared_task(name="privileged.detect_overdue", **RETRY_ON_DEPENDENCY_ERRORS)
def detect_overdue() -> dict:
    client = Client.objects.get(schema_name=connection.schema_name)
    today = timezone.localdate(timezone=client.tz)
    return {"schema": client.schema_name, "opened": services.detect_overdue(today=today)}

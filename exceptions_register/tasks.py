"""Thin Celery entry points of the register."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from . import services


@shared_task(name="exceptions_register.dispatch_expiry")
def dispatch_expiry() -> dict:
    """Beat entry: expire due exceptions and send reminders in every client."""
    expired = dispatch_per_client(expire_exceptions)
    dispatch_per_client(send_reminders)
    return {"clients": len(expired)}


@shared_task(name="exceptions_register.expire_exceptions", **RETRY_ON_DEPENDENCY_ERRORS)
def expire_exceptions() -> dict:
    return {"schema": connection.schema_name, "expired": services.expire_due_exceptions()}


@shared_task(name="exceptions_register.send_reminders", **RETRY_ON_DEPENDENCY_ERRORS)
def send_reminders() -> dict:
    client = Client.objects.get(schema_name=connection.schema_name)
    return {"schema": client.schema_name, "sent": services.send_due_reminders(client=client)}

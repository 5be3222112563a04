"""Thin Celery entry points of the register."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.models import Client

from . import services


@shared_task(name="exceptions_register.dispatch_expiry")
def dispatch_expiry() -> dict:
    """Beat entry: expire due exceptions and send reminders in every client."""
    clients = list(Client.objects.exclude(schema_name="public").values_list("pk", flat=True))
    for pk in clients:
        client = Client.objects.get(pk=pk)
        with tenant_context(client):
            expire_exceptions.apply_async()
            send_reminders.apply_async()
    return {"clients": len(clients)}


@shared_task(name="exceptions_register.expire_exceptions")
def expire_exceptions() -> dict:
    return {"schema": connection.schema_name, "expired": services.expire_due_exceptions()}


@shared_task(name="exceptions_register.send_reminders")
def send_reminders() -> dict:
    client = Client.objects.get(schema_name=connection.schema_name)
    return {"schema": client.schema_name, "sent": services.send_due_reminders(client=client)}

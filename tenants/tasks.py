from celery import shared_task
from django.db import connection

from tenants.models import Client


@shared_task(name="tenants.current_schema")
def current_schema() -> dict:
    """Report the schema this task runs in (used to prove tenant routing end to end)."""
    client = Client.objects.filter(schema_name=connection.schema_name).first()
    return {"schema": connection.schema_name, "client": client.slug if client else None}


@shared_task(name="tenants.heartbeat")
def heartbeat() -> dict:
    """A periodic no-op proving beat and worker are alive."""
    return {"schema": connection.schema_name}

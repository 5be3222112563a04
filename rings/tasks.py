"""Thin Celery entry points of the rings app."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

LOCK_SECONDS = 240


@shared_task(name="rings.dispatch_rollout_evaluation")
def dispatch_rollout_evaluation() -> dict:
    """Beat entry: send one evaluation per client (each runs in that client's schema)."""
    from tenants.models import Client

    sent = 0
    for client in Client.objects.exclude(schema_name="public").order_by("pk"):
        with tenant_context(client):
            evaluate_client_rollouts.apply_async()
        sent += 1
    return {"clients": sent}


@shared_task(
    name="rings.evaluate_client_rollouts", acks_late=True, soft_time_limit=120, time_limit=180
)
def evaluate_client_rollouts() -> dict:
    """Advance every active rollout of the current client; a per-client lock avoids pile-ups
    (correctness does not depend on it: every transition is a conditional update)."""
    from rings.services import evaluate_active_rollouts

    key = "rings:evaluate"  # make_key prefixes the schema: one lock per client
    if not cache.add(key, "1", LOCK_SECONDS):
        return {"schema": connection.schema_name, "skipped": "locked"}
    try:
        return {"schema": connection.schema_name, **evaluate_active_rollouts()}
    finally:
        cache.delete(key)

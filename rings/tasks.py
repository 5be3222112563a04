"""Thin Celery entry points of the rings app."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.utils import timezone

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from common.locks import held_lock
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from . import selectors, services
from .choices import PlacementTrigger
from .schedule import rebalance_due


@shared_task(name="rings.dispatch_rollout_evaluation")
def dispatch_rollout_evaluation() -> dict:
    """Beat entry: send one evaluation per client (each runs in that client's schema)."""
    return {"clients": len(dispatch_per_client(evaluate_client_rollouts))}


@shared_task(
    name="rings.evaluate_client_rollouts",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def evaluate_client_rollouts() -> dict:
    """Advance every active rollout of the current client; a per-client lock avoids pile-ups
    (correctness does not depend on it: every transition is a conditional update)."""
    with held_lock("rings:evaluate") as held:  # one lock per client
        if not held:
            return {"schema": connection.schema_name, "skipped": "locked"}
        return {"schema": connection.schema_name, **services.evaluate_active_rollouts()}


@shared_task(name="rings.dispatch_rebalance")
def dispatch_rebalance() -> dict:
    """Beat entry: send ``rebalance_client_rings`` to every client whose daily slot passed."""
    now = timezone.now()

    def due(client: Client) -> bool:
        last = selectors.last_placement(PlacementTrigger.SCHEDULE)
        return rebalance_due(now=now, tz=client.tz, last_run=last.ran_at if last else None)

    return {"sent": dispatch_per_client(rebalance_client_rings, select=due)}


@shared_task(
    name="rings.rebalance_client_rings",
    acks_late=True,
    soft_time_limit=300,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def rebalance_client_rings() -> dict:
    """Re-balance the current client's ring membership (pinned and in-flight members stay)."""
    with held_lock("rings:rebalance") as held:  # one lock per client
        if not held:
            return {"schema": connection.schema_name, "skipped": "locked"}
        summary = services.assign_rings(trigger=PlacementTrigger.SCHEDULE)
    return {"schema": connection.schema_name, **summary}


@shared_task(name="rings.dispatch_patch_policies")
def dispatch_patch_policies() -> dict:
    """Beat entry: send ``run_client_patch_policies`` to every client with a policy occurrence
    due and not yet run."""
    now = timezone.now()

    def due(client: Client) -> bool:
        return bool(services.due_policies(now))

    return {"sent": dispatch_per_client(run_client_patch_policies, select=due)}


@shared_task(
    name="rings.run_client_patch_policies",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def run_client_patch_policies() -> dict:
    """Run the current client's due policy occurrences; each occurrence runs once (its
    ``PolicyRun`` row is unique), so a repeated or concurrent task creates no second rollout."""
    return {"schema": connection.schema_name, **services.run_due_policies()}

"""Thin Celery entry points of the integrations app: outbox delivery and its sweep."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection
from tenant_schemas_celery.task import TenantTask

from common.dependencies import DEPENDENCY_ERRORS, RETRY_ON_DEPENDENCY_ERRORS
from common.locks import held_lock
from tenants.dispatch import dispatch_per_client

from . import outbox
from .models import MAX_ATTEMPTS_LIMIT


class OutboxTask(TenantTask):
    """Records each retry's backoff on the message (its ``next_attempt_at``), and gives the
    message up when the task fails for good."""

    abstract = True

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None,
              max_retries=None, **options):  # fmt: skip
        message_id = (args if args is not None else self.request.args or [None])[0]
        if message_id is not None and countdown is not None:
            outbox.schedule_next_attempt(message_id=message_id, countdown=countdown)
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if args:
            outbox.give_up(message_id=args[0], error=f"{exc.__class__.__name__}: {exc}")
        super().on_failure(exc, task_id, args, kwargs, einfo)


@shared_task(
    bind=True,
    base=OutboxTask,
    name=outbox.DELIVER_TASK,
    acks_late=True,
    autoretry_for=(outbox.TransientDeliveryError, *DEPENDENCY_ERRORS),
    retry_backoff=settings.OUTBOX_RETRY_BACKOFF_SECONDS,
    retry_backoff_max=settings.OUTBOX_RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_ATTEMPTS_LIMIT - 1,
    soft_time_limit=120,
    time_limit=180,
)
def deliver_outbox_message(self, message_id: int) -> dict[str, Any]:
    """One attempt at one outbox message; a transient failure (the receiver's, or a lost
    database or broker) raises and Celery retries with backoff. The message's own
    ``max_attempts`` decides when it is dead."""
    return outbox.deliver(message_id=message_id)


@shared_task(name="integrations.dispatch_outbox_sweep")
def dispatch_outbox_sweep() -> dict:
    """Beat entry: sweep the outbox of every client that has a stale message."""
    return {"sent": dispatch_per_client(sweep_outbox, select=lambda c: _has_stale())}


def _has_stale() -> bool:
    return outbox.stale_messages().exists()


@shared_task(
    name="integrations.sweep_outbox",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def sweep_outbox() -> dict:
    """Queue again the current client's messages whose delivery task was lost."""
    with held_lock("integrations:sweep") as held:  # one lock per client
        if not held:
            return {"schema": connection.schema_name, "skipped": "locked"}
        return {"schema": connection.schema_name, **outbox.requeue_stale()}


@shared_task(name="integrations.dispatch_psa_poll")
def dispatch_psa_poll() -> dict:
    """Beat entry: read the PSA tickets of every client with a polled connection."""
    return {"sent": dispatch_per_client(poll_psa, select=lambda c: _polls())}


def _polls() -> bool:
    from .models import PsaConnection

    return PsaConnection.objects.filter(is_active=True, poll=True).exists()


@shared_task(name="integrations.poll_psa", **RETRY_ON_DEPENDENCY_ERRORS)
def poll_psa() -> dict:
    """Queue one read of the current client's PSA tickets (through the outbox)."""
    from . import psa

    return {"schema": connection.schema_name, "queued": psa.poll()}

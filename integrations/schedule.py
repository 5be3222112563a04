"""Celery beat entries of the integrations app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Every five minutes (off the rollout evaluation's minutes): requeue outbox messages whose
    # delivery task was lost.
    "integrations.dispatch_outbox_sweep": {
        "task": "integrations.dispatch_outbox_sweep",
        "schedule": crontab(minute="3-59/5"),
    },
    # Every ten minutes: read the PSA tickets of the clients whose connection is polled
    # (status changes without a webhook, and the PSA's own tickets for the after-hours figure).
    "integrations.dispatch_psa_poll": {
        "task": "integrations.dispatch_psa_poll",
        "schedule": crontab(minute="7-59/10"),
    },
}

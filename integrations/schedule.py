"""Celery beat entries of the integrations app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Every five minutes (off the rollout evaluation's minutes): requeue outbox messages whose
    # delivery task was lost.
    "integrations.dispatch_outbox_sweep": {
        "task": "integrations.dispatch_outbox_sweep",
        "schedule": crontab(minute="3-59/5"),
    },
}

"""Celery beat entries of the exposure app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Every five minutes: response steps past their due time are marked overdue.
    "exposure-dispatch-overdue": {
        "task": "exposure.dispatch_overdue",
        "schedule": crontab(minute="*/5"),
    },
}

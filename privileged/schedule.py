"""Celery beat entries of the privileged app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Once a day: overdue rotations and reviews become issues (one per account and due date).
    "privileged-overdue": {
        "task": "privileged.dispatch_overdue",
        "schedule": crontab(hour=5, minute=23),
    },
}

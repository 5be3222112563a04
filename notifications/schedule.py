"""Celery beat entries of the notifications app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Hourly: each user's digest goes out in the hour they chose, in their time zone.
    "notifications.send_due_digests": {
        "task": "notifications.send_due_digests",
        "schedule": crontab(minute=11),
    },
}

"""Celery beat entries of the dashboard app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Mondays: the weekly review of the week just ended, by e-mail to MSP admins and engineers.
    "dashboard.send_weekly_digest": {
        "task": "dashboard.send_weekly_digest",
        "schedule": crontab(minute=37, hour=7, day_of_week=1),
    },
}

"""Celery beat entries of the reports app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Hourly, because "the 1st of the month" starts at a different UTC hour in each client's zone.
    "evidence-dispatch-monthly-reports": {
        "task": "evidence.dispatch_monthly_reports",
        "schedule": crontab(minute=7),
    },
}

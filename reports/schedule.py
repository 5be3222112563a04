"""Celery beat entries of the reports app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Hourly, because "the 1st of the month" starts at a different UTC hour in each client's zone.
    "evidence-dispatch-monthly-reports": {
        "task": "evidence.dispatch_monthly_reports",
        "schedule": crontab(minute=7),
    },
    # A request whose worker and message were both lost is failed (with a retry) in time.
    "reports-dispatch-stale-requests": {
        "task": "reports.dispatch_stale_requests",
        "schedule": crontab(minute="*/10"),
    },
    # A report e-mail whose task was lost (the broker was down at the report's commit).
    "reports-dispatch-lost-deliveries": {
        "task": "reports.dispatch_lost_deliveries",
        "schedule": crontab(minute="3-59/10"),
    },
}

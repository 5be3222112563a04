"""Celery beat entries of the exceptions_register app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Expiry is exact without this task (coverage reads expires_at); the task moves states,
    # reopens findings and sends the 14/7/1-day reminders.
    "exceptions-register-expiry": {
        "task": "exceptions_register.dispatch_expiry",
        "schedule": crontab(minute="7,37"),
    },
}

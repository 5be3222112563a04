"""Celery beat entries of the uploads app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # An upload whose worker and message were both lost is failed (to be uploaded again).
    "uploads-fail-stale-uploads": {
        "task": "uploads.fail_stale_uploads",
        "schedule": crontab(minute="*/15"),
    },
}

"""Catalogue periodic jobs: a daily feed sync (a no-op without configured URLs)."""

from celery.schedules import crontab

BEAT = {
    "catalogue-sync-feeds": {
        "task": "catalogue.sync_feeds",
        "schedule": crontab(minute=17, hour=5),
    },
}

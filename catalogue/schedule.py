"""Catalogue periodic jobs: feeds are synced daily (the sync does nothing without configured URLs)."""

from celery.schedules import crontab

BEAT = {
    "catalogue-sync-feeds": {
        "task": "catalogue.sync_feeds",
        "schedule": crontab(minute=17, hour=5),
    },
}

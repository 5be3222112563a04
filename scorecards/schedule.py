"""Celery beat entries of the scorecards app (merged into patchops.celery)."""

from celery.schedules import crontab

BEAT: dict = {
    # Daily scorecard rows (public rollup) for every client, read by the cross-client pages.
    "patchops-dispatch-scorecards": {
        "task": "patchops.dispatch_scorecards",
        "schedule": crontab(minute=17, hour=5),
    },
    # Weekly rollups (public) for the weekly review: the week that closed in each client's
    # zone, and the running week measured again.
    "scorecards-dispatch-weekly-rollups": {
        "task": "scorecards.dispatch_weekly_rollups",
        "schedule": crontab(minute=7),
    },
}

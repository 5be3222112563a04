"""Celery beat entries of the findings app (merged into patchops.celery). Findings are refreshed
after each ingest and each catalogue change; the SLA watch announces due-soon and overdue findings.
"""

from datetime import timedelta

from django.conf import settings

BEAT: dict = {
    "findings-sla-watch": {
        "task": "findings.dispatch_sla_watch",
        "schedule": timedelta(minutes=settings.FINDING_SLA_WATCH_MINUTES),
    },
}

"""Celery beat entries of the rings app (merged into patchops.celery)."""

BEAT: dict = {
    "rings.dispatch_rollout_evaluation": {
        "task": "rings.dispatch_rollout_evaluation",
        "schedule": 300.0,  # every 5 minutes
    },
}

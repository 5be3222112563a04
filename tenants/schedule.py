"""Celery beat entries of the tenants app (merged into patchops.celery)."""

BEAT: dict = {
    "tenants.heartbeat": {"task": "tenants.heartbeat", "schedule": 300.0},
}

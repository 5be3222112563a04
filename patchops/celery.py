"""The Celery app. Tasks are tenant-aware: a task sent for a client runs in that client's schema."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")

app = CeleryApp("patchops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs, staggered; per-client work fans out from these dispatchers. django-celery-beat's
# DatabaseScheduler picks these up and admins can add or pause entries in the Django admin.
app.conf.beat_schedule = {
    "tenants.heartbeat": {"task": "tenants.heartbeat", "schedule": 300.0},
}

"""The Celery app. Tasks are tenant-aware: a task sent for a client runs in that client's schema."""

import importlib
import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")

app = CeleryApp("patchops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs: each app lists its own in <app>/schedule.py (BEAT), with string task names and
# staggered minutes; per-client work fans out from these dispatchers. django-celery-beat's
# DatabaseScheduler loads them, and admins can pause or re-time entries in the Django admin.
SCHEDULE_APPS = [
    "tenants",
    "catalogue",
    "inventory",
    "uploads",
    "findings",
    "scorecards",
    "rings",
    "exceptions_register",
    "privileged",
    "integrations",
    "reports",
    "notifications",
    "exposure",
    "dashboard",
]
app.conf.beat_schedule = {}
for _app in SCHEDULE_APPS:
    app.conf.beat_schedule.update(importlib.import_module(f"{_app}.schedule").BEAT)

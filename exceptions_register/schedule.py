"""Celery beat entries of the exceptions_register app (merged into patchops.celery)."""

BEAT: dict = {}

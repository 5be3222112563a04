"""Celery beat entries of the integrations app (merged into patchops.celery)."""

BEAT: dict = {}

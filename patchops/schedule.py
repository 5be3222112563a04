"""Celery beat entries of the patchops app (merged into patchops.celery)."""

BEAT: dict = {}

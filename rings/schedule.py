"""Celery beat entries of the rings app (merged into patchops.celery)."""

BEAT: dict = {}

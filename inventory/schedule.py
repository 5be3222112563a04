"""Celery beat entries of the inventory app (merged into patchops.celery)."""

BEAT: dict = {}

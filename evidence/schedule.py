"""Celery beat entries of the evidence app (merged into patchops.celery)."""

BEAT: dict = {}

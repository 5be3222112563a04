"""Celery beat entries of the findings app (merged into patchops.celery): none; findings are
refreshed after each ingest and after each catalogue change."""

BEAT: dict = {}

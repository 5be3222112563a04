"""Thin Celery entry points for the catalogue (public schema)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from common.locks import held_lock

from . import services

LOCK_KEY = "catalogue:sync_feeds"


@shared_task(name="catalogue.sync_feeds")
def sync_feeds() -> dict:
    """Fetch and import every feed in ``settings.CATALOGUE_FEED_URLS`` (empty: nothing to do)."""
    feeds = getattr(settings, "CATALOGUE_FEED_URLS", {}) or {}
    if not feeds:
        return {"skipped": "no feeds configured"}
    with held_lock(LOCK_KEY) as held:
        if not held:
            return {"skipped": "another sync is running"}
        return services.sync_feeds(
            feeds=feeds, timeout=getattr(settings, "CATALOGUE_FEED_TIMEOUT", 60)
        )

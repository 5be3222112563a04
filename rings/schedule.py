"""Celery beat entries of the rings app (merged into patchops.celery), and the pure function
that decides when a client's ring membership is re-balanced."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from celery.schedules import crontab

BEAT: dict = {
    "rings.dispatch_rollout_evaluation": {
        "task": "rings.dispatch_rollout_evaluation",
        "schedule": 300.0,  # every 5 minutes
    },
    # Patch policies: occurrences are checked every five minutes (each client's own zone).
    "rings.dispatch_patch_policies": {
        "task": "rings.dispatch_patch_policies",
        "schedule": 300.0,
    },
    # Hourly dispatcher; each client re-balances once a day after its own local slot.
    "rings.dispatch_rebalance": {
        "task": "rings.dispatch_rebalance",
        "schedule": crontab(minute=37),
    },
}

# Local hour of the daily re-balance: after the night's maintenance windows, before work starts.
REBALANCE_HOUR = 5


def last_rebalance_slot(*, now: datetime, tz: tzinfo, hour: int = REBALANCE_HOUR) -> datetime:
    """The latest daily slot (local ``hour``) at or before ``now``."""
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if slot > local:
        slot = (slot.replace(tzinfo=None) - timedelta(days=1)).replace(tzinfo=tz)
    return slot


def rebalance_due(*, now: datetime, tz: tzinfo, last_run: datetime | None) -> bool:
    """Due when no scheduled re-balance ran since the latest slot."""
    return last_run is None or last_run < last_rebalance_slot(now=now, tz=tz)

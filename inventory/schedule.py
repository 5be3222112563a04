"""Celery beat entries of the inventory app (merged into patchops.celery), and the pure
functions that decide when a client's scheduled discovery and monthly snapshot are due."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from celery.schedules import crontab

BEAT: dict = {
    # Hourly dispatchers; each client runs when its own local slot has passed.
    "inventory.dispatch_discovery": {
        "task": "inventory.dispatch_discovery",
        "schedule": crontab(minute=7),
    },
    "inventory.dispatch_snapshots": {
        "task": "inventory.dispatch_snapshots",
        "schedule": crontab(minute=23),
    },
}

DAILY = "daily"
WEEKLY = "weekly"


def last_discovery_slot(
    *, now: datetime, tz: tzinfo, cadence: str, hour: int, weekday: int
) -> datetime:
    """The latest scheduled start at or before ``now`` (local ``hour``; weekly on ``weekday``)."""
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if cadence == WEEKLY:
        slot -= timedelta(days=(local.weekday() - weekday) % 7)
        if slot > local:
            slot -= timedelta(days=7)
    elif slot > local:
        slot -= timedelta(days=1)
    return slot


def discovery_due(
    *,
    now: datetime,
    tz: tzinfo,
    cadence: str,
    hour: int,
    weekday: int,
    last_started: datetime | None,
) -> bool:
    """Due when no scheduled run started since the latest slot."""
    slot = last_discovery_slot(now=now, tz=tz, cadence=cadence, hour=hour, weekday=weekday)
    return last_started is None or last_started < slot


def snapshot_month(*, now: datetime, tz: tzinfo):
    """The local month (its first day) a scheduled snapshot taken ``now`` belongs to."""
    return now.astimezone(tz).date().replace(day=1)


def next_discovery_slot(
    *, now: datetime, tz: tzinfo, cadence: str, hour: int, weekday: int
) -> datetime:
    """The first scheduled start after ``now``."""
    last = last_discovery_slot(now=now, tz=tz, cadence=cadence, hour=hour, weekday=weekday)
    step = timedelta(days=7 if cadence == WEEKLY else 1)
    return (last.replace(tzinfo=None) + step).replace(tzinfo=tz)

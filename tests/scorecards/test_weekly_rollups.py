"""Weekly rollups: the hourly task stores a client's week once it has closed in the client's
time zone (Chicago: Monday 00:00 CDT is 05:00 UTC), measures the running week again each hour,
and the weekly review reads those rows. Devices report through ingest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from dashboard.weekly import weekly_review
from scorecards.models import WeeklyRollup
from scorecards.tasks import dispatch_weekly_rollups, write_weekly_rollups_task
from tests.producers import Device, push

pytestmark = pytest.mark.django_db

REPORTED = datetime(2026, 5, 28, 15, 0, tzinfo=UTC)  # Thu 10:00 CDT, week of 2026-05-25
SUNDAY_NIGHT = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)  # Sun 23:30 CDT: the week still runs
CLOSED = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # Mon 00:00 CDT
MONDAY_EARLY = datetime(2026, 6, 1, 6, 7, tzinfo=UTC)  # Mon 01:07 CDT
WEEK = date(2026, 5, 25)


def _rows(client) -> dict[date, WeeklyRollup]:
    return {r.week_start: r for r in WeeklyRollup.objects.filter(client=client)}


def test_the_week_is_stored_once_it_closes_in_the_clients_zone(tenant_a, tenant_b, settings):
    # A workstation misses a critical update from Thursday on (overdue by Monday whatever its
    # class's window); another misses nothing.
    with tenant_context(tenant_a), time_machine.travel(REPORTED, tick=False):
        push(Device("ws-late").missing_kb("KB5000001", severity="critical"))
        push(Device("ws-fine"))

    with time_machine.travel(SUNDAY_NIGHT, tick=False):
        answer = write_weekly_rollups_task(tenant_a.pk)
    # Still Sunday in Chicago: the week before closed, this one runs.
    assert answer["weeks"] == ["2026-05-18", "2026-05-25"]
    running = _rows(tenant_a)[WEEK]
    assert not running.is_final and running.measured_at == SUNDAY_NIGHT
    assert running.end == CLOSED

    with time_machine.travel(MONDAY_EARLY, tick=False):
        assert write_weekly_rollups_task(tenant_a.pk)["weeks"] == ["2026-05-25", "2026-06-01"]
        # The closed week is not measured again by the next hour's run.
        again = write_weekly_rollups_task(tenant_a.pk)
    assert again["weeks"] == ["2026-06-01"]
    final = _rows(tenant_a)[WEEK]
    assert final.is_final and final.measured_at == CLOSED
    assert (final.compliant, final.in_scope) == (1, 2)

    # The dispatcher sends one task per client (eager Celery here).
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from patchops.celery import app

    app.conf.task_always_eager = True
    try:
        with time_machine.travel(MONDAY_EARLY + timedelta(hours=1), tick=False):
            assert dispatch_weekly_rollups()["dispatched"] >= 2
    finally:
        app.conf.task_always_eager = False
    # Berlin's week of 2026-05-25 closed at 22:00 UTC on Sunday.
    berlin = _rows(tenant_b)
    assert berlin[WEEK].is_final and berlin[WEEK].in_scope == 0

    with time_machine.travel(MONDAY_EARLY + timedelta(hours=1), tick=False):
        review = weekly_review([tenant_a, tenant_b], WEEK)
    a = review.rows[0]
    assert (a.this.compliant, a.this.in_scope) == (1, 2)
    assert a.this.compliance_pct == 50
    assert a.this.measured_at == CLOSED
    assert (review.msp.this.compliant, review.msp.this.in_scope) == (1, 2)

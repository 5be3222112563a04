"""SLA clock edges: due_at itself is on time, a microsecond later is overdue; windows are
absolute hours across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from compliance.engine import compliance_at, overdue_unexcepted_at
from findings.models import Finding
from tests.producers import Device, push

CHICAGO = ZoneInfo("America/Chicago")


def open_critical(at):
    """A core server's agent reports a critical update missing at ``at`` (24 h window)."""
    with time_machine.travel(at, tick=False):
        push(Device("srv-01", os="windows_server").missing_kb("KB5000001", severity="critical"))
    return Finding.objects.get(asset__hostname="srv-01")


@pytest.mark.django_db
def test_due_at_itself_is_not_overdue_one_microsecond_after_is(in_tenant_a):
    detected = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    finding = open_critical(detected)
    assert finding.due_at == detected + timedelta(hours=24)
    with time_machine.travel(finding.due_at, tick=False):
        now = timezone.now()
        assert not overdue_unexcepted_at(now).filter(pk=finding.pk).exists()
        assert compliance_at(now).client.pct == 100
    with time_machine.travel(finding.due_at + timedelta(microseconds=1), tick=False):
        now = timezone.now()
        assert overdue_unexcepted_at(now).filter(pk=finding.pk).exists()
        assert compliance_at(now).client.pct == 0


@pytest.mark.django_db
def test_window_across_spring_forward_is_absolute_hours(in_tenant_a):
    # 2026-03-08 02:00 CST → 03:00 CDT in Chicago. Detected Saturday 12:00 local (CST, UTC-6).
    detected = datetime(2026, 3, 7, 12, 0, tzinfo=CHICAGO)
    finding = open_critical(detected)
    # 24 elapsed hours later is 13:00 local on Sunday (clock moved forward one hour).
    assert finding.due_at - detected == timedelta(hours=24)
    assert finding.due_at.astimezone(CHICAGO).hour == 13
    with time_machine.travel(datetime(2026, 3, 8, 12, 30, tzinfo=CHICAGO), tick=False):
        # 12:30 local on Sunday is only 23.5 h after detection: not overdue yet.
        assert not overdue_unexcepted_at(timezone.now()).exists()


@pytest.mark.django_db
def test_window_across_fall_back_is_absolute_hours(in_tenant_a):
    # 2026-11-01 02:00 CDT → 01:00 CST. Detected Saturday 12:00 local (CDT, UTC-5).
    detected = datetime(2026, 10, 31, 12, 0, tzinfo=CHICAGO)
    finding = open_critical(detected)
    assert finding.due_at.astimezone(CHICAGO).hour == 11  # 24 h later, clock set back one hour
    with time_machine.travel(datetime(2026, 11, 1, 11, 30, tzinfo=CHICAGO), tick=False):
        assert overdue_unexcepted_at(timezone.now()).filter(pk=finding.pk).exists()

"""The SLA watch announces each open finding once when its due time nears and once when it
passes; verified and excepted findings are not announced, and a new due time is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine

from evidence.models import EvidenceEvent
from findings import tasks
from findings.models import Finding
from findings.tasks import sla_watch
from tests.exceptions_register.factories import make_active
from tests.producers import Device, push

pytestmark = pytest.mark.django_db

DETECTED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _announced(kind: str) -> list[EvidenceEvent]:
    return list(EvidenceEvent.objects.filter(kind=kind).order_by("sequence"))


def _open_critical(hostname: str, kb: str) -> tuple[Device, Finding]:
    """A core server's agent reports a critical update missing at DETECTED (24 h window)."""
    device = Device(hostname, os="windows_server").missing_kb(kb, severity="critical")
    with time_machine.travel(DETECTED, tick=False):
        push(device)
    return device, Finding.objects.get(asset__hostname=hostname, patch_identifier=kb)


def _sweep(at: datetime) -> dict:
    with time_machine.travel(at, tick=False):
        return sla_watch.apply().get()


def test_each_due_time_is_announced_once_soon_and_once_overdue(in_tenant_a, settings):
    settings.FINDING_DUE_SOON_HOURS = 6
    _, finding = _open_critical("srv-01", "KB5000001")
    due = DETECTED + timedelta(hours=24)
    assert finding.due_at == due

    assert _sweep(due - timedelta(hours=7)) == {"due_soon": 0, "overdue": 0}
    assert _sweep(due - timedelta(hours=5, minutes=30)) == {"due_soon": 1, "overdue": 0}
    assert _sweep(due - timedelta(hours=1)) == {"due_soon": 0, "overdue": 0}
    assert _sweep(due) == {"due_soon": 0, "overdue": 0}  # due_at itself is on time
    assert _sweep(due + timedelta(minutes=1)) == {"due_soon": 0, "overdue": 1}
    assert _sweep(due + timedelta(hours=3)) == {"due_soon": 0, "overdue": 0}

    (soon,) = _announced("finding.due_soon")
    (late,) = _announced("finding.overdue")
    assert soon.subject_id == late.subject_id == str(finding.uuid)
    assert soon.payload["hours_left"] == 5 and soon.payload["patch"] == "KB5000001"
    assert late.payload["due_at"] == due.isoformat()
    assert late.payload["hostname"] == "srv-01" and late.payload["tier"] == "critical"
    assert late.occurred_at == due + timedelta(minutes=1)


def test_verified_and_excepted_findings_are_not_announced(in_tenant_a, personas):
    device, fixed = _open_critical("srv-02", "KB5000002")
    _, deferred = _open_critical("srv-03", "KB5000003")
    _, late = _open_critical("srv-04", "KB5000004")
    with time_machine.travel(DETECTED + timedelta(hours=2), tick=False):
        push(device.install_kb("KB5000002"))
        make_active(
            client=in_tenant_a,
            approver=personas.owner_a,
            findings=[deferred],
            assets=[],
            expires_at=DETECTED + timedelta(days=10),
        )
    assert _sweep(DETECTED + timedelta(days=2)) == {"due_soon": 0, "overdue": 1}
    assert [e.subject_id for e in _announced("finding.overdue")] == [str(late.uuid)]
    # The deferral ends; the finding is still open, so the next sweep announces it.
    assert _sweep(DETECTED + timedelta(days=10, minutes=15)) == {"due_soon": 0, "overdue": 1}
    assert _announced("finding.overdue")[-1].subject_id == str(deferred.uuid)


def test_a_new_due_time_is_announced_again(in_tenant_a):
    device, finding = _open_critical("srv-05", "KB5000005")
    assert _sweep(DETECTED + timedelta(days=2))["overdue"] == 1
    # Fixed, then reported missing again: the finding reopens with a new clock.
    with time_machine.travel(DETECTED + timedelta(days=3), tick=False):
        push(device.install_kb("KB5000005"))
    device.hotfixes.remove("KB5000005")
    with time_machine.travel(DETECTED + timedelta(days=4), tick=False):
        push(device.missing_kb("KB5000005", severity="critical"))
    finding.refresh_from_db()
    assert finding.due_at > DETECTED + timedelta(days=4)
    assert _sweep(finding.due_at + timedelta(minutes=1))["overdue"] == 1
    assert len(_announced("finding.overdue")) == 2


def test_the_beat_runs_the_watch_in_every_client(tenant_a, tenant_b, settings):
    from patchops.celery import app

    entry = app.conf.beat_schedule["findings-sla-watch"]
    assert entry["task"] == tasks.dispatch_sla_watch.name
    assert entry["schedule"] == timedelta(minutes=settings.FINDING_SLA_WATCH_MINUTES)
    with mock.patch.object(tasks.sla_watch, "apply_async", autospec=True) as watch:
        result = tasks.dispatch_sla_watch()
    assert result["dispatched"] >= 2 and watch.call_count == result["dispatched"]

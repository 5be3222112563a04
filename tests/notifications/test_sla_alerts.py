"""The SLA watch's announcements of a critical finding reach the engineers once each."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from findings.models import Finding
from findings.tasks import sla_watch
from notifications.choices import NotificationKind
from notifications.models import Notification
from tests.notifications.helpers import assert_links_to, mails_to, send_pending
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
DETECTED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _sweep(at: datetime) -> dict:
    with time_machine.travel(at, tick=False):
        return sla_watch.apply().get()


def test_critical_finding_due_soon_then_overdue_mails_engineers(in_tenant_a, personas, settings):
    settings.FINDING_DUE_SOON_HOURS = 6
    with time_machine.travel(DETECTED, tick=False):
        push(Device("srv-01", os="windows_server").missing_kb("KB5000001", severity="critical"))
    finding = Finding.objects.get(asset__hostname="srv-01")
    assert _sweep(finding.due_at - timedelta(hours=5))["due_soon"] == 1
    assert _sweep(finding.due_at + timedelta(minutes=1))["overdue"] == 1
    _sweep(finding.due_at + timedelta(hours=2))  # announced already: nothing new
    kinds = list(
        Notification.objects.filter(user=personas.engineer)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == [NotificationKind.FINDING_DUE_SOON, NotificationKind.FINDING_OVERDUE]
    assert not Notification.objects.exclude(user=personas.engineer).exists()
    send_pending()
    soon, late = mails_to(personas.engineer.email)
    assert "about to breach" in soon.subject and "past its SLA" in late.subject
    for message in (soon, late):
        assert "KB5000001" in message.subject and "srv-01" in message.subject
        assert_links_to(message, f"/clients/{in_tenant_a.slug}/findings/{finding.uuid}/")
    send_pending()
    assert len(mail.outbox) == 2

"""Reminders go out 14, 7 and 1 days before expiry, to requester and owner, once each."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from exceptions_register import services
from exceptions_register.models import ExceptionReminder
from tests.exceptions_register.factories import make_active

pytestmark = pytest.mark.django_db


def test_reminders_go_out_once_each(in_tenant_a, personas):
    start = timezone.now()
    expiry = start + timedelta(days=30)
    exception = make_active(
        client=in_tenant_a, approver=personas.owner_a, actor=personas.engineer, expires_at=expiry
    )
    mail.outbox.clear()
    sent_at_days = []
    for hours_left in range(30 * 24, 0, -6):  # every six hours until expiry
        with time_machine.travel(expiry - timedelta(hours=hours_left), tick=False):
            before = len(mail.outbox)
            services.send_due_reminders(client=in_tenant_a)
            services.send_due_reminders(client=in_tenant_a)  # a retried beat run
            if len(mail.outbox) > before:
                sent_at_days.append(hours_left / 24)
    assert sent_at_days == [14, 7, 1]
    assert len(mail.outbox) == 3
    assert sorted(
        ExceptionReminder.objects.filter(exception=exception).values_list("days_before", flat=True)
    ) == [1, 7, 14]
    for message in mail.outbox:
        assert set(message.to) == {"owner@a.test", "engineer@msp.test"}
        assert exception.ticket_reference in message.subject
        assert message.alternatives and "text/html" in message.alternatives[0][1]
    assert "14 days" in mail.outbox[0].subject
    assert "1 day" in mail.outbox[2].subject


def test_late_request_gets_only_the_nearest_reminder(in_tenant_a, personas):
    exception = make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        expires_at=timezone.now() + timedelta(days=5),
    )
    mail.outbox.clear()
    assert services.send_due_reminders(client=in_tenant_a) == 1
    assert services.send_due_reminders(client=in_tenant_a) == 0
    assert len(mail.outbox) == 1
    assert set(exception.reminders.values_list("days_before", flat=True)) == {14, 7}


def test_no_reminder_for_unsigned_or_far_exceptions(in_tenant_a, personas):
    make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        expires_at=timezone.now() + timedelta(days=20),
    )
    mail.outbox.clear()
    assert services.send_due_reminders(client=in_tenant_a) == 0
    assert mail.outbox == []

"""Account managers hear of a client whose compliance fell since its previous scorecard."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django_tenants.utils import tenant_context

from notifications.choices import NotificationKind
from notifications.models import Notification
from scorecards.services import record_scorecard
from tests.notifications.helpers import assert_links_to, mails_to, send_pending
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def test_compliance_fall_mails_the_account_manager_once(tenant_a, personas):
    """A critical update goes missing on one of two workstations: compliant the next hour
    (inside its SLA window), overdue three days later."""
    with tenant_context(tenant_a), time_machine.travel(T0, tick=False):
        push([Device("ws-fine"), Device("ws-late").missing_kb("KB5000001", severity="critical")])
    first = record_scorecard(client=tenant_a, at=T0 + timedelta(hours=1))
    assert not Notification.objects.exists()  # no previous scorecard to compare with
    later = T0 + timedelta(days=3)
    with tenant_context(tenant_a), time_machine.travel(later - timedelta(hours=1), tick=False):
        push([Device("ws-fine"), Device("ws-late").missing_kb("KB5000001", severity="critical")])
    second = record_scorecard(client=tenant_a, at=later)
    record_scorecard(client=tenant_a, at=later + timedelta(minutes=5))  # the same day again
    assert second.compliance_pct < first.compliance_pct
    [notification] = Notification.objects.all()
    assert notification.user == personas.account_manager
    assert notification.kind == NotificationKind.COMPLIANCE_FELL
    send_pending()
    [message] = mails_to(personas.account_manager.email)
    assert f"{first.compliance_pct} %" in message.subject
    assert f"{second.compliance_pct} %" in message.subject
    assert_links_to(message, "/scorecards/")
    send_pending()
    assert len(mail.outbox) == 1

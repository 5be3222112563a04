"""A send that fails (the SMTP server drops the connection) is retried by the task and the
mail goes out once; the task run again afterwards sends nothing."""

import pytest
from django.core import mail

from notifications import tasks
from notifications.choices import NotificationState
from notifications.models import Notification
from tests.exceptions_register.factories import make_exception
from tests.notifications import flaky_mail
from tests.notifications.helpers import mails_to

pytestmark = pytest.mark.django_db


def test_a_failed_send_is_retried_into_one_mail(in_tenant_a, personas, settings):
    settings.EMAIL_BACKEND = "tests.notifications.flaky_mail.FlakyBackend"
    make_exception(client=in_tenant_a, approver=personas.owner_a, actor=personas.engineer)
    notification = Notification.objects.get(user=personas.owner_a)
    flaky_mail.FAILURES["left"] = 1
    result = tasks.send_notification.apply(args=[notification.pk])  # as the worker runs it
    assert result.successful(), result.traceback
    assert flaky_mail.FAILURES["left"] == 0  # the first attempt did fail
    assert len(mails_to(personas.owner_a.email)) == 1
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert tasks.send_notification.apply(args=[notification.pk]).get().startswith("skipped")
    assert len(mail.outbox) == 1

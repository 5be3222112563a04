"""The beat dispatcher and the thin tasks call the real services in each client's schema."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django_tenants.utils import tenant_context

from exceptions_register import tasks
from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.schedule import BEAT
from tests.exceptions_register.factories import make_active

pytestmark = pytest.mark.django_db


def test_beat_entry_names_the_dispatcher():
    assert {entry["task"] for entry in BEAT.values()} == {"exceptions_register.dispatch_expiry"}


def test_dispatcher_fans_out_to_every_client(tenant_a, tenant_b):
    with (
        mock.patch.object(tasks.expire_exceptions, "apply_async", autospec=True) as expire,
        mock.patch.object(tasks.send_reminders, "apply_async", autospec=True) as remind,
    ):
        result = tasks.dispatch_expiry()
    assert result["clients"] >= 2
    assert expire.call_count == result["clients"] == remind.call_count


def test_tasks_expire_and_remind_in_the_current_schema(tenant_a, personas):
    with tenant_context(tenant_a):
        exception = make_active(client=tenant_a, approver=personas.owner_a)
        mail.outbox.clear()
        with time_machine.travel(exception.expires_at - timedelta(days=1), tick=False):
            assert tasks.send_reminders()["sent"] == 1
        with time_machine.travel(exception.expires_at, tick=False):
            assert tasks.expire_exceptions() == {"schema": tenant_a.schema_name, "expired": 1}
        assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.EXPIRED
    assert len(mail.outbox) == 1

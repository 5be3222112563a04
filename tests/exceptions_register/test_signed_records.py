"""A signed exception and its signature cannot be altered: not by the ORM, not by raw SQL."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from exceptions_register.choices import ControlKind, ExceptionState
from exceptions_register.models import (
    CompensatingControl,
    RiskException,
    Signature,
    SignedRecordError,
)
from tests.exceptions_register.factories import make_active, make_exception
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db


def test_signed_exception_refuses_an_orm_save_of_its_content(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    exception.reason = "something else"
    with pytest.raises(SignedRecordError):
        exception.save()
    exception.refresh_from_db()
    assert exception.reason == "Vendor certifies the update next month."


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("reason", "'rewritten'"),
        ("ticket_reference", "'PSA-9'"),
        ("expires_at", "expires_at + interval '30 days'"),
        ("starts_at", "starts_at - interval '1 day'"),
    ],
)
def test_database_refuses_raw_updates_of_signed_content(in_tenant_a, personas, column, value):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    with (
        pytest.raises(IntegrityError, match="signed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE exceptions_register_riskexception SET {column} = {value} WHERE id = %s",
            [exception.pk],
        )


def test_database_refuses_queryset_update_and_delete_of_a_signed_exception(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    qs = RiskException.objects.filter(pk=exception.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        qs.update(expires_at=exception.expires_at + timedelta(days=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        connection.cursor().execute(
            "DELETE FROM exceptions_register_riskexception WHERE id = %s", [exception.pk]
        )
    assert qs.get().expires_at == exception.expires_at


def test_scope_and_controls_of_a_signed_exception_are_frozen(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        exception.assets.add(reported_asset())
    with pytest.raises(SignedRecordError):
        CompensatingControl.objects.create(
            exception=exception, kind=ControlKind.OTHER, description="late addition"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        exception.controls.all().delete()
    assert exception.controls.count() == 1
    assert exception.assets.count() == 1


def test_an_ended_exception_cannot_come_back(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    RiskException.objects.filter(pk=exception.pk).update(state=ExceptionState.EXPIRED)
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskException.objects.filter(pk=exception.pk).update(state=ExceptionState.ACTIVE)


def test_state_may_still_move_from_active_to_expired(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    assert RiskException.objects.filter(pk=exception.pk).update(state=ExceptionState.EXPIRED) == 1


def test_signature_rows_are_append_only(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    signature = exception.signature
    assert signature.verify()
    signature.user_agent = "forged"
    with pytest.raises(SignedRecordError):
        signature.save()
    with pytest.raises(SignedRecordError):
        signature.delete()
    sigs = Signature.objects.filter(pk=signature.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        sigs.update(text_sha256="0" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        sigs.delete()
    assert sigs.get().text_sha256 == exception.canonical_sha256()


def test_unsigned_exception_may_still_be_edited(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    exception.reason = "Clarified reason."
    exception.save()
    exception.assets.add(reported_asset())
    assert RiskException.objects.get(pk=exception.pk).reason == "Clarified reason."


def test_database_refuses_an_exception_without_expiry(in_tenant_a, personas):
    with pytest.raises(IntegrityError, match="expires_at"), transaction.atomic():
        connection.cursor().execute(
            "INSERT INTO exceptions_register_riskexception (uuid, kind, state, reason, "
            "ticket_reference, expires_at, created_at, updated_at, approver_id, "
            "requested_by_label, version, end_reason, ended_by) VALUES (gen_random_uuid(), "
            "'deferral', 'draft', 'r', "
            "'PSA-1', NULL, now(), now(), %s, 'x', 1, '', '')",
            [personas.owner_a.pk],
        )


def test_database_refuses_an_expiry_before_the_request(in_tenant_a, personas):
    with pytest.raises(IntegrityError, match="expires_after_creation"), transaction.atomic():
        connection.cursor().execute(
            "INSERT INTO exceptions_register_riskexception (uuid, kind, state, reason, "
            "ticket_reference, expires_at, created_at, updated_at, approver_id, "
            "requested_by_label, version, end_reason, ended_by) VALUES (gen_random_uuid(), "
            "'deferral', 'draft', 'r', "
            "'PSA-1', now() - interval '1 day', now(), now(), %s, 'x', 1, '', '')",
            [personas.owner_a.pk],
        )

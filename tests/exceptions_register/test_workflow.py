"""Sign, reject, revoke, revise and expire, with evidence and finding states."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evidence.models import EvidenceEvent
from exceptions_register import services
from exceptions_register.choices import ExceptionState, SignatureDecision
from exceptions_register.models import RiskException
from findings.choices import FindingState
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import (
    exception_input,
    make_active,
    make_exception,
    sign,
)
from tests.producers import reported_finding

pytestmark = pytest.mark.django_db


def _kinds(exception):
    return list(
        EvidenceEvent.objects.filter(subject_id=str(exception.uuid))
        .order_by("sequence")
        .values_list("kind", flat=True)
    )


def test_signing_activates_and_records_who_when_where_and_what(in_tenant_a, personas):
    finding = reported_finding()
    exception = make_exception(
        client=in_tenant_a, approver=personas.owner_a, findings=[finding], assets=[]
    )
    text, digest = exception.canonical_text(), exception.canonical_sha256()
    sign(exception, client=in_tenant_a, user=personas.owner_a)
    exception.refresh_from_db()
    signature = exception.signature
    assert exception.state == ExceptionState.ACTIVE
    assert exception.starts_at == signature.signed_at
    assert signature.user == personas.owner_a
    assert signature.ip_address == "198.51.100.7"
    assert signature.user_agent == "pytest"
    assert signature.signed_text == text
    assert signature.text_sha256 == digest
    assert signature.decision == SignatureDecision.SIGNED
    finding.refresh_from_db()
    assert finding.state == FindingState.EXCEPTED
    assert _kinds(exception) == [
        "exception.requested",
        "exception.submitted",
        "exception.signed",
    ]


def test_wrong_password_signs_nothing(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    with pytest.raises(ValidationError) as info:
        services.sign_exception(
            client=in_tenant_a,
            exception=exception,
            user=personas.owner_a,
            password="wrong",
            text_sha256=exception.canonical_sha256(),
        )
    assert "password" in info.value.message_dict
    exception.refresh_from_db()
    assert exception.state == ExceptionState.PENDING_SIGNOFF


def test_a_text_changed_after_reading_cannot_be_signed(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    read_digest = exception.canonical_sha256()
    services.update_exception(
        client=in_tenant_a,
        exception=exception,
        actor=personas.engineer,
        data=exception_input(
            approver=personas.owner_a, assets=list(exception.assets.all()), reason="Changed."
        ),
    )
    with pytest.raises(ValidationError, match="changed since you opened it"):
        services.sign_exception(
            client=in_tenant_a,
            exception=exception,
            user=personas.owner_a,
            password=PASSWORD,
            text_sha256=read_digest,
        )


def test_only_the_named_approver_may_sign(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    for user in (personas.viewer_a, personas.engineer, personas.owner_b):
        with pytest.raises(ValidationError):
            sign(exception, client=in_tenant_a, user=user)
    exception.refresh_from_db()
    assert exception.state == ExceptionState.PENDING_SIGNOFF


def test_signing_twice_is_refused(in_tenant_a, personas):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    with pytest.raises(ValidationError, match="no longer awaiting"):
        sign(exception, client=in_tenant_a, user=personas.owner_a)


def test_rejection_needs_a_reason_and_ends_the_exception(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    common = dict(
        client=in_tenant_a,
        exception=exception,
        user=personas.owner_a,
        password=PASSWORD,
        text_sha256=exception.canonical_sha256(),
    )
    with pytest.raises(ValidationError):
        services.reject_exception(**common, reason=" ")
    services.reject_exception(**common, reason="Patch it this weekend instead.")
    exception.refresh_from_db()
    assert exception.state == ExceptionState.REJECTED
    assert exception.signature.decision == SignatureDecision.REJECTED
    assert exception.signature.rejection_reason == "Patch it this weekend instead."
    assert _kinds(exception)[-1] == "exception.rejected"


def test_revoking_reopens_the_covered_findings(in_tenant_a, personas):
    finding = reported_finding()
    exception = make_active(
        client=in_tenant_a, approver=personas.owner_a, findings=[finding], assets=[]
    )
    services.revoke_exception(exception=exception, actor=personas.engineer, reason="Patched.")
    exception.refresh_from_db()
    finding.refresh_from_db()
    assert exception.state == ExceptionState.REVOKED
    assert finding.state == FindingState.OPEN
    assert _kinds(exception)[-1] == "exception.revoked"


def test_editing_a_signed_exception_creates_a_new_version_needing_a_signature(
    in_tenant_a, personas
):
    original = make_active(client=in_tenant_a, approver=personas.owner_a)
    text = original.signature.signed_text
    new = services.revise_exception(
        client=in_tenant_a,
        exception=original,
        actor=personas.engineer,
        data=exception_input(
            approver=personas.owner_a, assets=list(original.assets.all()), reason="Widened."
        ),
    )
    original.refresh_from_db()
    assert original.state == ExceptionState.ACTIVE
    assert original.canonical_text() == text
    assert new.supersedes == original and new.version == 2
    assert new.state == ExceptionState.PENDING_SIGNOFF
    assert "exception.renewed" in _kinds(original)
    sign(new, client=in_tenant_a, user=personas.owner_a)
    original.refresh_from_db()
    assert original.state == ExceptionState.REVOKED
    assert "Superseded by version 2" in original.end_reason


def test_renewal_keeps_findings_excepted_across_the_handover(in_tenant_a, personas):
    finding = reported_finding()
    original = make_active(
        client=in_tenant_a, approver=personas.owner_a, findings=[finding], assets=[]
    )
    renewal = services.revise_exception(
        client=in_tenant_a,
        exception=original,
        actor=personas.engineer,
        data=exception_input(
            approver=personas.owner_a,
            findings=[finding],
            assets=[],
            expires_at=timezone.now() + timedelta(days=60),
        ),
        renewal=True,
    )
    sign(renewal, client=in_tenant_a, user=personas.owner_a)
    finding.refresh_from_db()
    assert finding.state == FindingState.EXCEPTED


def test_expiry_task_service_ends_due_exceptions_once(in_tenant_a, personas):
    finding = reported_finding()
    exception = make_active(
        client=in_tenant_a, approver=personas.owner_a, findings=[finding], assets=[]
    )
    later = exception.expires_at + timedelta(seconds=1)
    assert services.expire_due_exceptions(now=later) == 1
    assert services.expire_due_exceptions(now=later) == 0
    exception.refresh_from_db()
    finding.refresh_from_db()
    assert exception.state == ExceptionState.EXPIRED
    assert exception.ended_at == exception.expires_at
    assert finding.state == FindingState.OPEN
    assert _kinds(exception).count("exception.expired") == 1


def test_pending_exception_past_its_expiry_expires_unsigned(in_tenant_a, personas):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    services.expire_due_exceptions(now=exception.expires_at)
    assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.EXPIRED

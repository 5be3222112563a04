"""The audit log records what it is told, in its own vocabulary, and only that."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts import audit
from accounts.models import AuditEvent


def test_a_recorded_event_keeps_who_what_where_and_for_which_client(personas, tenant_a):
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")

    event = audit.record(
        "membership.created",
        actor=personas.msp_admin,
        client=tenant_a,
        request=request,
        target="new.owner@example.com",
        role="client_owner",
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor == personas.msp_admin
    assert stored.actor_label == personas.msp_admin.email
    assert stored.client == tenant_a
    assert stored.ip_address == "203.0.113.9"
    assert stored.user_agent == "Firefox"
    assert stored.target == "new.owner@example.com"
    assert stored.detail == {"role": "client_owner"}
    assert audit.label_of(stored.kind) == "Client user added"


def test_an_anonymous_attempt_is_labelled_with_the_address_tried(db):
    event = audit.record("login.failed", actor_label="nobody@example.com")

    assert event.actor is None
    assert event.actor_label == "nobody@example.com"
    assert event.client is None


def test_a_token_actor_is_named_not_linked(make_token, tenant_a):
    token = make_token(scope="read", client=tenant_a)[0]

    event = audit.record("token.created", actor=token, client=tenant_a, target=token.name)

    assert event.actor is None
    assert event.actor_label == f"token:{token.name}"


def test_an_unknown_kind_records_nothing(db):
    with pytest.raises(ValueError, match="Unknown audit event kind"):
        audit.record("login.maybe")
    assert not AuditEvent.objects.exists()

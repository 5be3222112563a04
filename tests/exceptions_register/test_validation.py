"""An exception cannot be requested without ticket, expiry or owner, nor beyond the maximum."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from exceptions_register import services
from exceptions_register.choices import ExceptionKind, ExceptionState
from exceptions_register.models import RiskException
from tests.exceptions_register.factories import exception_input, make_exception
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db


def _refused(client, data, field):
    with pytest.raises(ValidationError) as info:
        services.request_exception(client=client, actor="test", data=data)
    assert field in info.value.message_dict
    assert RiskException.objects.count() == 0
    return info.value.message_dict[field]


def test_request_without_ticket_is_refused(in_tenant_a, personas):
    messages = _refused(
        in_tenant_a,
        exception_input(approver=personas.owner_a, ticket_reference="  "),
        "ticket_reference",
    )
    assert "ticket" in messages[0]


def test_request_without_expiry_is_refused(in_tenant_a, personas):
    messages = _refused(
        in_tenant_a, exception_input(approver=personas.owner_a, expires_at=None), "expires_at"
    )
    assert "expiry" in messages[0]


def test_request_without_owner_is_refused(in_tenant_a, personas):
    _refused(in_tenant_a, exception_input(approver=None), "approver")


@pytest.mark.parametrize("who", ["viewer_a", "owner_b", "engineer"])
def test_request_with_approver_who_is_not_an_owner_of_this_client_is_refused(
    in_tenant_a, personas, who
):
    messages = _refused(in_tenant_a, exception_input(approver=getattr(personas, who)), "approver")
    assert "owner of this client" in messages[0]


def test_expiry_beyond_the_client_maximum_is_refused(in_tenant_a, personas):
    too_far = timezone.now() + timedelta(days=in_tenant_a.max_exception_days, minutes=5)
    messages = _refused(
        in_tenant_a, exception_input(approver=personas.owner_a, expires_at=too_far), "expires_at"
    )
    assert "at most 90 days" in messages[0]


def test_expiry_at_the_client_maximum_is_accepted(in_tenant_a, personas):
    limit = timezone.now() + timedelta(days=in_tenant_a.max_exception_days, minutes=-1)
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a, expires_at=limit)
    assert exception.state == ExceptionState.PENDING_SIGNOFF


def test_a_lower_client_maximum_applies(in_tenant_a, personas):
    in_tenant_a.max_exception_days = 30
    _refused(
        in_tenant_a,
        exception_input(approver=personas.owner_a, expires_at=timezone.now() + timedelta(days=31)),
        "expires_at",
    )


def test_expiry_in_the_past_is_refused(in_tenant_a, personas):
    _refused(
        in_tenant_a,
        exception_input(approver=personas.owner_a, expires_at=timezone.now() - timedelta(hours=1)),
        "expires_at",
    )


def test_isolated_lane_without_compensating_controls_is_refused(in_tenant_a, personas):
    data = exception_input(
        approver=personas.owner_a,
        kind=ExceptionKind.ISOLATED_LANE,
        assets=[reported_asset(asset_class="do_not_disrupt")],
        controls=[],
    )
    messages = _refused(in_tenant_a, data, "compensating_controls")
    assert "at least one compensating control" in messages[0]


def test_isolated_lane_with_a_control_is_accepted(in_tenant_a, personas):
    exception = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        kind=ExceptionKind.ISOLATED_LANE,
        assets=[reported_asset(asset_class="do_not_disrupt")],
    )
    assert exception.controls.count() == 1


def test_deferral_without_scope_is_refused(in_tenant_a, personas):
    data = exception_input(approver=personas.owner_a, assets=[], findings=[])
    _refused(in_tenant_a, data, "findings")


def test_every_problem_is_reported_at_once(in_tenant_a, personas):
    data = exception_input(approver=None, ticket_reference="", expires_at=None, reason="")
    with pytest.raises(ValidationError) as info:
        services.request_exception(client=in_tenant_a, actor="test", data=data)
    assert {"approver", "ticket_reference", "expires_at", "reason"} <= set(info.value.message_dict)

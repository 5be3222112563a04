"""Coverage stops exactly at the expiry instant, in every number, before any task runs."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from exceptions_register.choices import ExceptionKind
from exceptions_register.selectors import (
    active_exceptions_at,
    covered_findings_at,
    register_counts,
)
from tests.exceptions_register.factories import make_active, make_exception
from tests.producers import Device, reported_asset, reported_finding

pytestmark = pytest.mark.django_db


def test_coverage_stops_exactly_at_expiry(in_tenant_a, personas):
    expiry = (timezone.now() + timedelta(days=10)).replace(microsecond=0)
    named = reported_finding()
    lane_asset = reported_asset(asset_class="do_not_disrupt")
    on_lane = reported_finding(Device(lane_asset.hostname, asset_class="do_not_disrupt"))
    deferral = make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[named],
        assets=[],
        expires_at=expiry,
    )
    make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        kind=ExceptionKind.ISOLATED_LANE,
        assets=[lane_asset],
        expires_at=expiry,
    )
    just_before = expiry - timedelta(microseconds=1)
    assert set(covered_findings_at(just_before)) == {named, on_lane}
    assert set(covered_findings_at(expiry)) == set()
    assert list(active_exceptions_at(expiry)) == []
    # No task has run: the exception is still "active" in its row, yet covers nothing.
    with time_machine.travel(expiry, tick=False):
        deferral.refresh_from_db()
        assert deferral.state == "active"
        assert covered_findings_at(timezone.now()).count() == 0
        assert register_counts()["active"] == 0
        assert register_counts()["covered_findings"] == 0
    with time_machine.travel(just_before, tick=False):
        assert register_counts()["covered_findings"] == 2


def test_nothing_is_covered_before_signature(in_tenant_a, personas):
    finding = reported_finding()
    make_exception(client=in_tenant_a, approver=personas.owner_a, findings=[finding], assets=[])
    assert covered_findings_at(timezone.now()).count() == 0


def test_unrelated_findings_are_not_covered(in_tenant_a, personas):
    covered = reported_finding()
    reported_finding()
    make_active(client=in_tenant_a, approver=personas.owner_a, findings=[covered], assets=[])
    assert list(covered_findings_at(timezone.now())) == [covered]

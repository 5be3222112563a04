"""Demo exceptions: one active deferral, one isolated lane, one pending, one expired."""

import pytest
from django.utils import timezone

from demo import exceptions as demo
from exceptions_register.choices import ExceptionKind, ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.selectors import covered_findings_at
from tests.producers import Device, push, reported_finding

pytestmark = pytest.mark.django_db


def test_empty_fleet_seeds_nothing(in_tenant_a, personas):
    demo.seed_client(in_tenant_a)
    assert RiskException.objects.count() == 0


def test_demo_register_is_realistic(in_tenant_a, personas):
    push([Device(f"ws-{i:02d}") for i in (1, 2, 3)])
    xray = Device("xray-acq-01", asset_class="do_not_disrupt")
    push(xray)
    imaging = xray.asset
    for _ in range(4):
        reported_finding()
    demo.seed_client(in_tenant_a)
    by_state = {e.state: e for e in RiskException.objects.all() if e.state != "active"}
    active = RiskException.objects.filter(state=ExceptionState.ACTIVE)
    assert set(RiskException.objects.values_list("state", flat=True)) == {
        "active",
        "pending_signoff",
        "expired",
    }
    deferral = active.get(kind=ExceptionKind.DEFERRAL)
    assert deferral.aging_days() == 20
    assert deferral.signature.verify()
    lane = active.get(kind=ExceptionKind.ISOLATED_LANE)
    assert list(lane.assets.all()) == [imaging]
    assert lane.controls.count() >= 1
    assert by_state["pending_signoff"].approver.email == "owner@a.test"
    assert covered_findings_at(timezone.now()).count() >= 2

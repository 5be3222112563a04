"""Automatic ring assignment and manual pins, on fleets whose agents reported (each device
was placed when first seen; ``assign_rings`` re-balances them)."""

from collections import Counter

import pytest

from common.choices import OsFamily
from inventory.choices import AssetRole
from rings.choices import MembershipSource
from rings.models import Ring, RingMembership
from rings.services import assign_rings, pin_asset
from tests.producers import Device, push

pytestmark = pytest.mark.django_db


def ring(key: str) -> Ring:
    return Ring.objects.get(key=key)


def fleet(prefix: str, n: int, **device) -> list:
    """``n`` devices report: their assets."""
    devices = [Device(f"{prefix}-{i:03d}", **device) for i in range(n)]
    push(devices)
    return [d.asset for d in devices]


def _rings() -> dict[str, str]:
    return dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))


def test_default_rings_are_seeded_in_every_client(in_tenant_a):
    assert [r.key for r in ring("canary").__class__.objects.all()] == [
        "canary",
        "pilot",
        "production",
    ]
    assert ring("production").approver_role == "client_owner"


def test_do_not_disrupt_asset_is_never_assigned_to_canary(in_tenant_a):
    # The only Linux machines are do-not-disrupt: canary still must not take them.
    dnd = fleet("lab", 3, os="ubuntu", asset_class="do_not_disrupt")
    fleet("pc", 6)
    assign_rings()
    placed = _rings()
    assert all(placed[a.hostname] != "canary" for a in dnd)
    assert Counter(placed.values())["canary"] >= 1


def test_canary_covers_every_os_family_and_role_in_a_small_fleet(in_tenant_a):
    fleet("pc", 3)
    [linux] = fleet("srv", 1, os="ubuntu")
    [mac] = fleet("kiosk", 1, os="macos", role=AssetRole.SHARED_KIOSK)
    assign_rings()
    members = RingMembership.objects.filter(ring__key="canary").select_related("asset")
    families = {m.asset.os_family for m in members}
    roles = {m.asset.role for m in members}
    assert families == {OsFamily.WINDOWS, OsFamily.LINUX, OsFamily.MACOS}
    assert AssetRole.SHARED_KIOSK in roles
    assert _rings()[linux.hostname] == "canary" and _rings()[mac.hostname] == "canary"


def test_pilot_takes_its_share_spread_across_os_and_roles(in_tenant_a):
    fleet("pc", 70)
    fleet("srv", 20, os="ubuntu", role=AssetRole.SERVER)
    fleet("mac", 10, os="macos")
    summary = assign_rings()
    pilot = RingMembership.objects.filter(ring__key="pilot").select_related("asset")
    assert summary["pilot"] == pilot.count() == 15  # 15 % of 100
    families = Counter(m.asset.os_family for m in pilot)
    assert set(families) == {OsFamily.WINDOWS, OsFamily.LINUX, OsFamily.MACOS}
    assert families[OsFamily.WINDOWS] > families[OsFamily.LINUX] > 0
    assert summary["canary"] + summary["pilot"] + summary["production"] == 100


def test_assignment_is_deterministic_and_keeps_pins(in_tenant_a):
    assets = fleet("pc", 30) + fleet("srv", 5, os="ubuntu")
    assign_rings()
    first = _rings()
    pinned = next(a for a in assets if first[a.hostname] == "production")
    pin_asset(asset=pinned, ring=ring("canary"), actor="engineer@msp.test")
    assign_rings()
    second = _rings()
    assert second[pinned.hostname] == "canary"
    assert RingMembership.objects.get(asset=pinned).source == MembershipSource.PINNED
    assign_rings()
    assert _rings() == second


def test_pilot_percent_outside_10_to_20_is_refused(in_tenant_a):
    from django.core.exceptions import ValidationError

    pilot = ring("pilot")
    pilot.fleet_percent = 35
    with pytest.raises(ValidationError):
        pilot.full_clean()

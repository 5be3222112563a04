"""New devices join rings by themselves: pushed to ``discovery/``, they appear in a ring's
``members/`` without anyone calling ``rings/assign/``; membership re-balances on a schedule."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset
from rings import tasks
from rings.choices import PlacementTrigger
from rings.models import PlacementRun, Ring, RingMembership
from rings.schedule import last_rebalance_slot, rebalance_due
from rings.services import create_rollout, pin_asset, place_new_assets
from tenants.choices import TokenScope
from tests.rings.producers import BASE, Device, Fleet, members, person

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # Monday 10:00 in Chicago


@pytest.fixture
def fleet(tenant_a, make_token):
    _, token = make_token(TokenScope.AGENT, tenant_a, name="agents")
    return Fleet(token)


def _office(fleet: Fleet) -> list[Device]:
    """Twelve Windows workstations, two Ubuntu servers, a Mac kiosk and a do-not-disrupt
    Windows server (the EHR database)."""
    return fleet.add(
        *[Device(f"FRONTDESK-{i:02d}") for i in range(1, 13)],
        Device("app-srv-01", os="ubuntu"),
        Device("app-srv-02", os="ubuntu"),
        Device("KIOSK-01", os="macos", attributes={"role": "shared_kiosk"}),
        Device("EHR-DB-01", os="windows_server", attributes={"asset_class": "do_not_disrupt"}),
    )


def test_devices_pushed_to_discovery_appear_in_ring_members(fleet, tenant_a, personas):
    devices = _office(fleet)
    with time_machine.travel(T0, tick=False):
        fleet.push()
    http = person(personas.engineer)
    placed = members(http)
    hostnames = {a for a in placed}
    with tenant_context(tenant_a):
        stored = {a.hostname: a for a in Asset.objects.select_related("asset_class")}
        assert set(stored) == hostnames  # every managed asset is in exactly one ring
        assert len(stored) == len(devices)
        # No one asked for an assignment: the placement ran when the devices were first seen.
        assert not PlacementRun.objects.filter(trigger=PlacementTrigger.REQUEST).exists()
        run = PlacementRun.objects.get(trigger=PlacementTrigger.FIRST_SEEN)
        assert run.placed == len(devices) and run.ran_at == T0
        event = EvidenceEvent.objects.get(kind="ring.members_placed")
        assert event.payload["trigger"] == "first_seen" and event.payload["placed"] == len(devices)
        assert sorted(event.payload["hostnames"]) == sorted(hostnames)
        pilot_percent = Ring.objects.get(key="pilot").fleet_percent
        canary_size = Ring.objects.get(key="canary").canary_size
    by_ring = Counter(placed.values())
    canary = {h for h, r in placed.items() if r == "canary"}
    # The canary rules: every OS family and role present, never the do-not-disrupt server.
    families = {stored[h].os_family for h in canary}
    roles = {stored[h].role for h in canary}
    assert families == {"windows", "linux", "macos"}
    assert {"workstation", "server", "shared_kiosk"} <= roles
    ehr = next(h for h in stored if h.lower() == "ehr-db-01")
    assert placed[ehr] != "canary"
    # Coverage needs three devices here (a Windows PC, a Linux server, the Mac kiosk); the
    # canary then fills to its size, never past it.
    assert by_ring["canary"] == canary_size
    # The pilot takes its share of the fleet (ceil(16 × 15 %) = 3), production the rest.
    assert by_ring["pilot"] == -(-len(devices) * pilot_percent // 100)
    assert sum(by_ring.values()) == len(devices)
    body = http.get(f"{BASE}rings/").json()["results"]
    counts = {r["key"]: r for r in body}
    assert sum(r["first_seen_count"] for r in body) == len(devices)
    assert counts["canary"]["automatic_count"] == by_ring["canary"]
    assert counts["canary"]["last_placed_at"] == "2026-06-01T15:00:00Z"


def test_a_device_first_seen_later_joins_without_moving_anyone(fleet, tenant_a, personas):
    _office(fleet)
    with time_machine.travel(T0, tick=False):
        fleet.push()
    http = person(personas.engineer)
    before = members(http)
    with tenant_context(tenant_a):
        pinned = Asset.objects.get(hostname__iexact="frontdesk-03")
        pin_asset(asset=pinned, ring=Ring.objects.get(key="pilot"), actor=personas.msp_admin)
    before[pinned.hostname] = "pilot"
    fleet.add(Device("MAC-02", os="macos"), Device("FRONTDESK-13"))
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        fleet.push("MAC-02", "FRONTDESK-13", "FRONTDESK-03")  # a known one reports too
    after = members(http)
    new = set(after) - set(before)
    assert len(new) == 2
    assert {h: r for h, r in after.items() if h in before} == before  # nobody moved
    member = next(
        m
        for ring in http.get(f"{BASE}rings/").json()["results"]
        for m in http.get(f"{BASE}rings/{ring['id']}/members/").json()["results"]
        if m["hostname"] in new
    )
    assert member["placed_by"] == "first_seen"
    assert member["assigned_at"] == "2026-06-03T15:00:00Z"
    with tenant_context(tenant_a):
        assert RingMembership.objects.get(asset=pinned).placed_by == PlacementTrigger.PIN
        assert PlacementRun.objects.filter(trigger=PlacementTrigger.FIRST_SEEN).count() == 2
    # The rings page says how many were placed automatically and when.
    page = http.get("/clients/tenant-a/rings/").content.decode()
    assert 'data-testid="first-seen-count">17<' in page
    assert "2026-06-03 10:00 CDT" in page


def test_placement_is_deterministic(fleet, tenant_a):
    _office(fleet)
    with time_machine.travel(T0, tick=False):
        fleet.push()
    with tenant_context(tenant_a):
        first = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
        # The same devices placed again (what the hook does) land in the same rings.
        RingMembership.objects.all().delete()
        place_new_assets(asset_ids=Asset.objects.values_list("pk", flat=True))
        again = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
    assert again == first


def test_rebalance_schedule_is_daily_at_five_local():
    tz = ZoneInfo("America/Chicago")
    before = datetime(2026, 6, 2, 9, 59, tzinfo=UTC)  # 04:59 CDT
    after = datetime(2026, 6, 2, 10, 1, tzinfo=UTC)  # 05:01 CDT
    assert last_rebalance_slot(now=before, tz=tz) == datetime(2026, 6, 1, 5, 0, tzinfo=tz)
    assert last_rebalance_slot(now=after, tz=tz) == datetime(2026, 6, 2, 5, 0, tzinfo=tz)
    ran = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
    assert not rebalance_due(now=before, tz=tz, last_run=ran)
    assert rebalance_due(now=after, tz=tz, last_run=ran)
    assert rebalance_due(now=after, tz=tz, last_run=None)


def test_scheduled_rebalance_moves_members_but_not_those_of_an_unfinished_rollout(
    fleet, tenant_a, personas
):
    fleet.add(*[Device(f"PC-{i:02d}") for i in range(1, 11)])
    with time_machine.travel(T0, tick=False):
        fleet.push()
        fleet.add(*[Device(f"LNX-{i:02d}", os="ubuntu") for i in range(1, 6)])
        fleet.missing("KB5039212", "PC-01", "PC-02", "PC-03", "PC-04", "PC-05")
        fleet.push()  # the Linux machines join later: the canary may be missing them
    with tenant_context(tenant_a):
        first = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
        rollout = create_rollout(
            name="June",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5039212"],
        )
        carried = set(rollout.findings.values_list("asset__hostname", flat=True))
    # The beat dispatcher sends the re-balance to clients whose 05:00 slot passed.
    with time_machine.travel(datetime(2026, 6, 2, 10, 30, tzinfo=UTC), tick=False):
        with mock.patch.object(tasks.rebalance_client_rings, "apply_async", autospec=True) as send:
            assert "tenant-a" in tasks.dispatch_rebalance()["sent"]
        assert send.called
        with tenant_context(tenant_a):
            summary = tasks.rebalance_client_rings()
            assert summary["trigger"] == "schedule"
            assert summary["held"] == len(carried)
            second = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
            assert {h: second[h] for h in carried} == {h: first[h] for h in carried}
            assert set(second) == set(first)
            run = PlacementRun.objects.get(trigger=PlacementTrigger.SCHEDULE)
            assert run.held == len(carried) and run.moved == summary["moved"]
        # Within the same day the dispatcher does not send it again.
        with mock.patch.object(tasks.rebalance_client_rings, "apply_async", autospec=True):
            assert "tenant-a" not in tasks.dispatch_rebalance()["sent"]
    page = person(personas.engineer).get("/clients/tenant-a/rings/").content.decode()
    assert "Last scheduled re-balance 2026-06-02 05:30 CDT" in page


def test_deleting_a_ring_places_its_members_again(fleet, tenant_a, personas, login):
    fleet.add(*[Device(f"PC-{i:02d}") for i in range(1, 8)])
    http = person(personas.msp_admin)
    response = http.post(
        f"{BASE}rings/",
        {"key": "lab", "name": "Lab", "order": 5, "assignment": "manual"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    lab = response.json()["id"]
    with time_machine.travel(T0, tick=False):
        fleet.push()
    with tenant_context(tenant_a):
        asset = Asset.objects.order_by("hostname").first()
        pin_asset(asset=asset, ring=Ring.objects.get(key="lab"), actor=personas.msp_admin)
    assert http.delete(f"{BASE}rings/{lab}/").status_code == 204
    placed = members(http)
    assert placed[asset.hostname] in {"canary", "pilot", "production"}
    assert len(placed) == 7
    production = next(
        r["id"] for r in http.get(f"{BASE}rings/").json()["results"] if r["key"] == "production"
    )
    response = http.delete(f"{BASE}rings/{production}/")
    assert response.status_code == 400 and "production" in str(response.json())

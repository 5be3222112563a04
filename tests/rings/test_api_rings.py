"""API: rings and members, rollouts with waves and actions, windows, runbook checks."""

from datetime import UTC, datetime

import pytest
import time_machine
from django_tenants.utils import tenant_context

from rings.models import MaintenanceWindow, Ring, RollbackEvent
from rings.services import assign_rings, create_rollout, evaluate_rollout
from tenants.choices import TokenScope
from tests.producers import Device, maintenance_window, office, push

pytestmark = pytest.mark.django_db

BASE = "/clients/tenant-a/api/v1/"
OTHER = "/clients/tenant-b/api/v1/"


@pytest.fixture
def fleet(tenant_a):
    with tenant_context(tenant_a):
        data = office()
        assign_rings()
        return data


@pytest.fixture
def rollout(tenant_a, fleet, personas):
    with tenant_context(tenant_a):
        rollout = create_rollout(
            name="June",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        return rollout


def test_rings_list_shows_order_soak_threshold_and_approver(login, personas, fleet):
    body = login(personas.viewer_a).get(f"{BASE}rings/").json()
    assert [r["key"] for r in body["results"]] == ["canary", "pilot", "production"]
    canary = body["results"][0]
    assert canary["soak_hours"] == 24 and canary["failure_threshold_pct"] == "10.00"
    assert canary["approver_role"] == "engineer" and canary["member_count"] >= 3
    brief = login(personas.viewer_a).get(f"{BASE}rings/?brief=true").json()
    assert set(brief["results"][0]) == {"id", "key", "name", "order"}


def test_ring_members_with_os_family_and_role(login, personas, fleet):
    http = login(personas.engineer)
    canary = http.get(f"{BASE}rings/").json()["results"][0]
    body = http.get(f"{BASE}rings/{canary['id']}/members/").json()
    assert body["count"] == canary["member_count"]
    member = body["results"][0]
    assert set(member) == {
        "id",
        "hostname",
        "os_family",
        "role",
        "asset_class",
        "pinned",
        "placed_by",
        "assigned_at",
        "updated_at",
    }
    # Placed when their agents first reported, or moved by the re-balance asked for.
    assert {m["placed_by"] for m in body["results"]} <= {"first_seen", "request"}
    assert all(m["asset_class"] != "do_not_disrupt" for m in body["results"])
    linux = http.get(f"{BASE}rings/{canary['id']}/members/?os_family=linux").json()
    assert linux["count"] >= 1 and {m["os_family"] for m in linux["results"]} == {"linux"}
    assert http.get(f"{BASE}rings/{canary['id']}/members/?os_family=amiga").status_code == 400


def test_membership_export_is_csv(login, personas, fleet):
    response = login(personas.engineer).get(f"{BASE}rings/export/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("ring,hostname,asset_id,os_family,role")
    assert len(lines) == 1 + len(fleet.devices)


def test_ring_edit_needs_administer(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        pilot = Ring.objects.get(key="pilot")
    url = f"{BASE}rings/{pilot.uuid}/"
    assert (
        login(personas.engineer)
        .patch(url, {"soak_hours": 12}, content_type="application/json")
        .status_code
        == 403
    )
    http = login(personas.msp_admin)
    response = http.patch(url, {"fleet_percent": 50}, content_type="application/json")
    assert response.status_code == 400 and "fleet_percent" in response.json()
    response = http.patch(
        url, {"soak_hours": 12, "approver_role": "client_owner"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["soak_hours"] == 12


def test_pin_via_api_moves_and_keeps_the_asset(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        dnd = Device("imaging-01", asset_class="do_not_disrupt")
        push(dnd)
        asset = dnd.asset
        canary = Ring.objects.get(key="canary")
    http = login(personas.msp_admin)
    response = http.post(
        f"{BASE}rings/{canary.uuid}/pin/",
        {"asset": str(asset.uuid)},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["pinned"] is True
    assert http.post(f"{BASE}rings/assign/").status_code == 200
    with tenant_context(tenant_a):
        asset.ring_membership.refresh_from_db()
        assert asset.ring_membership.ring == canary  # a pin by hand is allowed, and stays


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner_a", 403), ("engineer", 200), ("viewer_a", 403), ("owner_b", 404), ("nobody", 404)],
)
def test_approve_canary_by_role(login, personas, rollout, persona, expected, tenant_a):
    with tenant_context(tenant_a):
        wave = rollout.waves.get(ring__key="canary")
    response = login(getattr(personas, persona)).post(
        f"{BASE}rollouts/{rollout.uuid}/approve/",
        {"wave": str(wave.uuid)},
        content_type="application/json",
    )
    assert response.status_code == expected, response.content
    if expected == 403 and persona == "owner_a":
        assert (
            "must be approved by an engineer" in response.json()["detail"]
            or "engineer" in response.json()["detail"]
        )


def test_production_is_approved_by_the_client_owner_only(login, personas, rollout, tenant_a):
    with tenant_context(tenant_a):
        wave = rollout.waves.get(ring__key="production")
    url = f"{BASE}rollouts/{rollout.uuid}/approve/"
    data = {"wave": str(wave.uuid)}
    response = login(personas.engineer).post(url, data, content_type="application/json")
    assert response.status_code == 403 and "client owner" in response.json()["detail"]
    response = login(personas.owner_a).post(url, data, content_type="application/json")
    assert response.status_code == 200
    prod = [w for w in response.json()["waves"] if w["ring"]["key"] == "production"][0]
    assert prod["approval"]["approved_by"] == "owner@a.test"
    assert prod["approval"]["role"] == "client_owner"


def test_rollout_list_nests_waves_and_filters(login, personas, rollout):
    body = login(personas.viewer_a).get(f"{BASE}rollouts/").json()
    assert body["count"] == 1
    waves = body["results"][0]["waves"]
    assert [w["ring"]["key"] for w in waves] == ["canary", "pilot", "production"]
    assert waves[0]["state"] == "awaiting" and waves[0]["counts"]["total"] >= 3
    assert waves[0]["failure_rate"] is None
    assert login(personas.viewer_a).get(f"{BASE}rollouts/?state=halted").json()["count"] == 0
    assert login(personas.viewer_a).get(f"{BASE}rollouts/?state=bogus").status_code == 400


def test_create_rollout_via_api(login, personas, fleet):
    http = login(personas.engineer)
    response = http.post(
        f"{BASE}rollouts/",
        {"name": "Linux criticals", "selection": "critical_for_os", "os_family": "linux"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["findings"]) == 3 and len(response.json()["waves"]) == 3
    response = http.post(
        f"{BASE}rollouts/",
        {"name": "None", "selection": "critical_for_os", "os_family": "macos", "x": 1},
        content_type="application/json",
    )
    assert response.status_code == 201  # two macOS assets carry the critical finding
    response = http.post(
        f"{BASE}rollouts/", {"name": "x", "selection": "findings"}, content_type="application/json"
    )
    assert response.status_code == 400 and "findings" in response.json()
    assert (
        login(personas.viewer_a)
        .post(f"{BASE}rollouts/", {}, content_type="application/json")
        .status_code
        == 403
    )


def test_halt_and_rollback_via_api(login, personas, rollout, tenant_a, fleet):
    http = login(personas.engineer)
    url = f"{BASE}rollouts/{rollout.uuid}/"
    assert http.post(url + "halt/", {}, content_type="application/json").status_code == 400
    response = http.post(
        url + "halt/", {"reason": "Vendor recall"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["state"] == "halted"
    with tenant_context(tenant_a):
        asset = fleet.assets[0]
    response = http.post(
        url + "rollback/",
        {"assets": [str(asset.uuid)], "what": "Uninstalled KB5030001", "outcome": "succeeded"},
        content_type="application/json",
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        assert RollbackEvent.objects.get().actor == "engineer@msp.test"
    assert (
        login(personas.owner_a)
        .post(url + "halt/", {"reason": "x"}, content_type="application/json")
        .status_code
        == 403
    )


def test_rollouts_are_client_scoped(login, personas, rollout, make_token, api, http):
    assert http.get(f"{BASE}rollouts/").status_code == 401
    assert login(personas.owner_b).get(f"{BASE}rollouts/{rollout.uuid}/").status_code == 404
    assert login(personas.msp_admin).get(f"{OTHER}rollouts/{rollout.uuid}/").status_code == 404


def test_maintenance_window_crud_and_validation(login, personas, tenant_a):
    http = login(personas.engineer)
    url = f"{BASE}maintenance-windows/"
    data = {
        "name": "Patch Tuesday + 4",
        "recurrence": "patch_tuesday",
        "offset_days": 4,
        "start_time": "22:00",
        "duration_minutes": 240,
    }
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        response = http.post(url, data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["next_opening"]["start"].startswith("2026-03-15T03:00")  # 22:00 CDT
    bad = http.post(url, {**data, "recurrence": "weekly"}, content_type="application/json")
    assert bad.status_code == 400 and "weekdays" in bad.json()
    bad = http.post(url, {**data, "scope": "site"}, content_type="application/json")
    assert bad.status_code == 400 and "site" in bad.json()
    assert http.get(url + "?recurrence=patch_tuesday").json()["count"] == 1
    assert http.get(url + "?recurrence=weekly").json()["count"] == 0
    assert (
        login(personas.viewer_a).post(url, data, content_type="application/json").status_code == 403
    )
    window_id = response.json()["id"]
    assert login(personas.viewer_a).delete(f"{url}{window_id}/").status_code == 403
    assert login(personas.engineer).delete(f"{url}{window_id}/").status_code == 204
    with tenant_context(tenant_a):
        assert not MaintenanceWindow.objects.exists()


def test_runbook_checks_defaults_and_recording(login, personas, rollout, tenant_a):
    http = login(personas.engineer)
    checks = http.get(f"{BASE}runbook-checks/").json()["results"]
    assert [c["name"] for c in checks] == [
        "E-mail delivery",
        "EHR platform access",
        "Local file access",
    ]
    assert (
        http.post(
            f"{BASE}runbook-checks/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    with tenant_context(tenant_a):
        wave = rollout.waves.get(ring__key="canary")
    response = http.post(
        f"{BASE}rollouts/{rollout.uuid}/runbook/",
        {"wave": str(wave.uuid), "check": checks[0]["id"], "passed": True},
        content_type="application/json",
    )
    assert response.status_code == 400  # not before patching starts
    assert "after patching" in str(response.json())


def test_agent_token_cannot_read_rollouts(make_token, api, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    assert api(plaintext).get(f"{BASE}rollouts/").status_code == 403


def test_window_time_is_validated(login, personas):
    response = login(personas.engineer).post(
        f"{BASE}maintenance-windows/",
        {
            "name": "x",
            "recurrence": "weekly",
            "weekdays": [9],
            "start_time": "25:00",
            "duration_minutes": 5,
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert {"start_time", "duration_minutes"} <= set(response.json())


def test_rollout_list_query_count_does_not_grow_with_rollouts(
    login, personas, rollout, tenant_a, django_assert_max_num_queries
):
    with tenant_context(tenant_a):
        for name in ("Second", "Third", "Fourth"):
            create_rollout(
                name=name,
                actor=personas.engineer,
                selection="patch_identifiers",
                patch_identifiers=["KB5030001"],
            )
    http = login(personas.viewer_a)
    # 20, and the second-factor check of a viewer without one (does it need one, does it have
    # one: two queries, each with its search_path).
    with django_assert_max_num_queries(24):
        body = http.get(f"{BASE}rollouts/").json()
    assert body["count"] == 4


def test_rmm_reports_results_for_a_wave(make_token, api, personas, tenant_a):
    from datetime import UTC, datetime

    from rings.services import approve_wave

    with tenant_context(tenant_a), time_machine.travel(datetime(2026, 6, 3, 3, 30, tzinfo=UTC)):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="RMM",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        wave = rollout.waves.get(ring__key="canary")
        approve_wave(wave=wave, user=personas.engineer)
        evaluate_rollout(rollout=rollout)
        assets = [str(u) for u in wave.results.values_list("asset__uuid", flat=True)]
    _, plaintext = make_token(TokenScope.WRITE, tenant_a, name="rmm")
    url = f"{BASE}rollouts/{rollout.uuid}/results/"
    body = {
        "wave": str(wave.uuid),
        "results": [{"asset": assets[0], "status": "failed", "message": "disk full"}]
        + [{"asset": a, "status": "deployed"} for a in assets[1:]],
    }
    response = api(plaintext).post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    canary = response.json()["waves"][0]
    assert canary["counts"]["failed"] == 1 and canary["counts"]["deployed"] == len(assets) - 1
    bad = {"wave": str(wave.uuid), "results": [{"asset": str(wave.uuid), "status": "deployed"}]}
    assert api(plaintext).post(url, bad, content_type="application/json").status_code == 400
    _, read = make_token(TokenScope.READ, tenant_a, name="reader")
    assert api(read).post(url, body, content_type="application/json").status_code == 403

"""Pages: rollout board, ring editor, maintenance-window editor."""

from datetime import UTC, datetime

import pytest
import time_machine
from django_tenants.utils import tenant_context

from rings.models import Approval, MaintenanceWindow, Ring, Rollout
from rings.services import assign_rings, create_rollout, evaluate_rollout
from tests.producers import office

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/"


@pytest.fixture
def rollout(tenant_a, personas):
    with tenant_context(tenant_a):
        office()
        assign_rings()
        rollout = create_rollout(
            name="June KB",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        return rollout


def test_board_shows_waves_and_buttons_by_role(login, personas, rollout):
    page = login(personas.engineer).get(PAGE + "rollouts/").content.decode()
    assert "June KB" in page and 'data-testid="wave-canary"' in page
    assert 'data-testid="approve-canary"' in page and 'data-testid="approve-pilot"' in page
    assert 'data-testid="approve-production"' not in page  # the client owner's ring
    assert 'data-testid="halt"' in page
    page = login(personas.owner_a).get(PAGE + "rollouts/").content.decode()
    assert 'data-testid="approve-production"' in page
    assert 'data-testid="approve-canary"' not in page and 'data-testid="halt"' not in page
    page = login(personas.viewer_a).get(PAGE + "rollouts/").content.decode()
    assert "approve-" not in page and 'data-testid="halt"' not in page


def test_board_links_and_forms_point_at_this_client(login, personas, rollout):
    page = login(personas.engineer).get(PAGE + "rollouts/").content.decode()
    detail = f"{PAGE}rollouts/{rollout.uuid}/"
    assert f'href="{detail}"' in page
    assert f'action="{detail}approve/"' in page and f'action="{detail}halt/"' in page
    assert f'action="{PAGE}rollouts/new/"' in page
    assert f'formaction="{PAGE}rollouts/preview/#new-rollout"' in page
    assert f'href="{PAGE}rings/"' in page and f'href="{PAGE}maintenance-windows/"' in page
    for target in (detail, f"{PAGE}rings/", f"{PAGE}maintenance-windows/"):
        assert login(personas.engineer).get(target).status_code == 200, target
    detail_page = login(personas.engineer).get(detail).content.decode()
    assert f'href="{PAGE}rollouts/"' in detail_page


def test_board_empty_state_and_access(login, personas, http):
    page = login(personas.engineer).get(PAGE + "rollouts/").content.decode()
    assert "No rollouts yet" in page
    assert login(personas.owner_b).get(PAGE + "rollouts/").status_code == 404
    http.logout()
    assert http.get(PAGE + "rollouts/").status_code == 302


def test_owner_approves_production_through_the_page(login, personas, rollout, tenant_a):
    with tenant_context(tenant_a):
        wave = rollout.waves.get(ring__key="production")
    http = login(personas.owner_a)
    response = http.post(f"{PAGE}rollouts/{rollout.uuid}/approve/", {"wave": str(wave.uuid)})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Approval.objects.get(wave=wave).role == "client_owner"


def test_wrong_role_approval_through_the_page_is_refused(login, personas, rollout, tenant_a):
    with tenant_context(tenant_a):
        wave = rollout.waves.get(ring__key="canary")
    response = login(personas.owner_a).post(
        f"{PAGE}rollouts/{rollout.uuid}/approve/", {"wave": str(wave.uuid)}
    )
    assert response.status_code == 403
    assert "must be approved by an engineer" in response.content.decode()
    with tenant_context(tenant_a):
        assert not Approval.objects.exists()


def test_halt_through_the_page_needs_operate(login, personas, rollout, tenant_a):
    url = f"{PAGE}rollouts/{rollout.uuid}/halt/"
    assert login(personas.owner_a).post(url, {"reason": "no"}).status_code == 403
    assert login(personas.engineer).post(url, {"reason": "Vendor recall"}).status_code == 302
    with tenant_context(tenant_a):
        assert Rollout.objects.get(pk=rollout.pk).state == "halted"


def test_create_rollout_through_the_page(login, personas, tenant_a):
    with tenant_context(tenant_a):
        office(patch="KB5039999")
        assign_rings()
    http = login(personas.engineer)
    response = http.post(
        PAGE + "rollouts/new/",
        {"name": "Hotfix", "selection": "patch_identifiers", "patch_identifiers": "KB5039999"},
        follow=True,
    )
    assert "Rollout created" in response.content.decode()
    response = http.post(
        PAGE + "rollouts/new/",
        {"name": "Nothing", "selection": "patch_identifiers", "patch_identifiers": "KB0"},
        follow=True,
    )
    assert "No open finding matches" in response.content.decode()


def test_ring_editor_lists_edits_and_exports(login, personas, tenant_a):
    with tenant_context(tenant_a):
        office()
        assign_rings()
    page = login(personas.engineer).get(PAGE + "rings/").content.decode()
    assert 'data-testid="ring-canary"' in page and "Canary members" in page
    assert 'data-testid="assign"' not in page
    assert login(personas.engineer).post(PAGE + "rings/", {"assign": "1"}).status_code == 403
    http = login(personas.msp_admin)
    response = http.post(
        PAGE + "rings/",
        {
            "ring": "pilot",
            "pilot-name": "Pilot",
            "pilot-soak_hours": "36",
            "pilot-failure_threshold_pct": "4",
            "pilot-approver_role": "engineer",
            "pilot-fleet_percent": "12",
            "pilot-canary_size": "5",
            "pilot-verify_timeout_hours": "72",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Ring.objects.get(key="pilot").soak_hours == 36
    bad = http.post(PAGE + "rings/", {"ring": "pilot", "pilot-fleet_percent": "60"})
    assert bad.status_code == 400
    csv = http.get(PAGE + "rings/export.csv")
    assert csv["Content-Type"] == "text/csv" and csv.content.decode().count("\n") == 21


def test_window_editor_adds_and_deletes(login, personas, tenant_a):
    http = login(personas.engineer)
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        response = http.post(
            PAGE + "maintenance-windows/",
            {
                "name": "Sunday night",
                "scope": "client",
                "recurrence": "weekly",
                "weekdays": ["6"],
                "offset_days": "0",
                "start_time": "02:00",
                "duration_minutes": "180",
                "is_active": "on",
            },
        )
        assert response.status_code == 302
        page = http.get(PAGE + "maintenance-windows/").content.decode()
    assert "Sunday night" in page and "2026-03-01 02:00 CST" in page
    bad = http.post(PAGE + "maintenance-windows/", {"name": "x", "recurrence": "weekly"})
    assert bad.status_code == 400
    with tenant_context(tenant_a):
        window = MaintenanceWindow.objects.get()
    assert (
        login(personas.viewer_a)
        .post(PAGE + "maintenance-windows/", {"delete": str(window.uuid)})
        .status_code
        == 403
    )
    login(personas.engineer).post(PAGE + "maintenance-windows/", {"delete": str(window.uuid)})
    with tenant_context(tenant_a):
        assert not MaintenanceWindow.objects.exists()

"""Discovery runs list and schedule under /clients/<slug>/discovery-runs/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import DiscoverySchedule

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/discovery-runs/"


@pytest.fixture
def runs(tenant_a):
    """Twelve agents push two hours ago; a subnet scan is imported an hour ago."""
    import time_machine

    from inventory.services import run_ingest, run_reconcile
    from tests.producers import Device

    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(hours=2), tick=False):
            run_ingest(
                data=[Device(f"pc-{i:02d}").payload() for i in range(12)],
                source="agent", run_source="agent", source_name="agent token clinic",
            )  # fmt: skip
        with time_machine.travel(now - timedelta(hours=1), tick=False):
            run_reconcile(
                hosts=[{"status": "up", "ip": "10.0.0.9"}, {"status": "down", "ip": "10.0.0.10"}],
                source_name="scan-2026-11.xml",
            )


@pytest.mark.parametrize(
    "persona", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"]
)
def test_runs_render_for_view_roles(login, personas, runs, persona):
    response = login(getattr(personas, persona)).get(BASE)
    assert response.status_code == 200
    text = response.content.decode()
    assert "scan-2026-11.xml" in text and "assets_created: 12" in text
    assert "unknown_new: 1" in text and "ignored: 1" in text
    assert ("schedule-form" in text) is (persona == "msp_admin")


def test_runs_are_404_for_another_clients_owner(login, personas, runs):
    assert login(personas.owner_b).get(BASE).status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [("source=agent", "agent token clinic"), ("source=nmap", "scan-2026-11.xml")],
)
def test_run_filters_narrow_the_list(login, personas, runs, query, expected):
    text = login(personas.viewer_a).get(f"{BASE}?{query}").content.decode()
    assert text.count('data-testid="run-row"') == 1 and expected in text


def test_admin_edits_the_schedule(login, personas, tenant_a):
    response = login(personas.msp_admin).post(
        BASE, {"local_hour": "3", "weekday": "5", "is_enabled": ""}, follow=True
    )
    assert "Discovery schedule saved." in response.content.decode()
    with tenant_context(tenant_a):
        schedule = DiscoverySchedule.current()
        assert (schedule.local_hour, schedule.weekday, schedule.is_enabled) == (3, 5, False)
        assert EvidenceEvent.objects.filter(kind="discovery.schedule_changed").count() == 1


def test_bad_schedule_is_rejected(login, personas, tenant_a):
    response = login(personas.msp_admin).post(BASE, {"local_hour": "24", "weekday": "9"})
    assert response.status_code == 200
    assert "not saved" in response.content.decode()
    with tenant_context(tenant_a):
        assert DiscoverySchedule.current().local_hour == 2


@pytest.mark.parametrize("persona", ["engineer", "account_manager", "owner_a"])
def test_schedule_edit_needs_administer(login, personas, tenant_a, persona):
    response = login(getattr(personas, persona)).post(BASE, {"local_hour": "5", "weekday": "1"})
    assert response.status_code == 403
    with tenant_context(tenant_a):
        assert DiscoverySchedule.current().local_hour == 2

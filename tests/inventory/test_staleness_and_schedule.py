"""Staleness and the per-client discovery schedule."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from evidence.models import EvidenceEvent
from inventory.models import Asset, DiscoveryRun, DiscoverySchedule
from inventory.schedule import discovery_due, last_discovery_slot
from inventory.selectors import is_discovery_due
from inventory.services import mark_stale_assets, run_scheduled_discovery
from inventory.tasks import dispatch_discovery, run_discovery
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def reported(hostname: str, at: datetime) -> None:
    """The device's agent reports at ``at`` (and not after)."""
    with time_machine.travel(at, tick=False):
        push(Device(hostname))


def test_assets_unseen_for_n_days_turn_stale(in_tenant_a):
    reported("old", NOW - timedelta(days=14, seconds=1))
    reported("edge", NOW - timedelta(days=13, hours=23))
    with time_machine.travel(NOW, tick=False):
        assert mark_stale_assets(stale_after_days=14) == 1
        assert list(Asset.objects.filter(is_stale=True).values_list("hostname", flat=True)) == [
            "old"
        ]
        assert mark_stale_assets(stale_after_days=14) == 0
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert mark_stale_assets(stale_after_days=14) == 1
    assert EvidenceEvent.objects.filter(kind="asset.stale").count() == 2


def test_scheduled_run_records_counts_and_times(in_tenant_a):
    in_tenant_a.stale_after_days = 7
    reported("pc-1", NOW - timedelta(days=8))
    reported("pc-2", NOW)
    with time_machine.travel(NOW, tick=False):
        run = run_scheduled_discovery(client=in_tenant_a)
    assert run.status == "succeeded" and run.source == "schedule"
    assert run.counts["assets_turned_stale"] == 1 and run.counts["assets_total"] == 2
    assert run.finished_at >= run.started_at and run.errors == []


def test_run_discovery_task_uses_the_client_setting(in_tenant_a):
    reported("pc-1", datetime.now(UTC) - timedelta(days=20))
    result = run_discovery()
    assert result["counts"]["assets_turned_stale"] == 1
    assert DiscoveryRun.objects.get(source="schedule").uuid.hex == result["run"].replace("-", "")


CHICAGO = ZoneInfo("America/Chicago")


def test_daily_slot_is_local_hour_in_client_time_zone():
    # 07:30 UTC = 01:30 Chicago (CST): the 02:00 slot of today has not come; yesterday's has.
    now = datetime(2026, 1, 15, 7, 30, tzinfo=UTC)
    slot = last_discovery_slot(now=now, tz=CHICAGO, cadence="daily", hour=2, weekday=6)
    assert slot == datetime(2026, 1, 14, 2, 0, tzinfo=CHICAGO)
    later = datetime(2026, 1, 15, 8, 5, tzinfo=UTC)
    assert last_discovery_slot(now=later, tz=CHICAGO, cadence="daily", hour=2, weekday=6) == (
        datetime(2026, 1, 15, 2, 0, tzinfo=CHICAGO)
    )


def test_weekly_slot_lands_on_the_weekday():
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # a Thursday
    slot = last_discovery_slot(now=now, tz=CHICAGO, cadence="weekly", hour=2, weekday=6)
    assert slot.date().isoformat() == "2026-01-11" and slot.weekday() == 6


def test_discovery_due_only_once_per_slot():
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    kwargs = {"now": now, "tz": CHICAGO, "cadence": "daily", "hour": 2, "weekday": 6}
    assert discovery_due(last_started=None, **kwargs)
    assert discovery_due(last_started=datetime(2026, 1, 14, 9, 0, tzinfo=UTC), **kwargs)
    assert not discovery_due(last_started=datetime(2026, 1, 15, 8, 1, tzinfo=UTC), **kwargs)


def test_dispatcher_sends_due_clients_once(in_tenant_a, monkeypatch):
    sent = []
    monkeypatch.setattr(run_discovery, "apply_async", lambda *a, **k: sent.append(1))
    with time_machine.travel(NOW, tick=False):
        assert "tenant-a" in dispatch_discovery()["sent"]
        run_scheduled_discovery(client=in_tenant_a)
        assert not is_discovery_due(client=in_tenant_a, now=NOW + timedelta(minutes=5))
    schedule = DiscoverySchedule.current()
    schedule.is_enabled = False
    schedule.save()
    assert not is_discovery_due(client=in_tenant_a, now=NOW + timedelta(days=3))


def test_api_discovery_schedule_read_and_admin_edit(login, personas, http):
    url = "/clients/tenant-a/api/v1/discovery-schedule/"
    assert http.get(url).status_code == 401
    assert login(personas.owner_b).get(url).status_code == 404
    body = login(personas.viewer_a).get(url).json()
    assert body["cadence"] == "daily" and body["time_zone"] == "America/Chicago"
    assert body["local_hour"] == 2 and body["next_run_at"]
    patch = {"local_hour": 23, "weekday": 0}
    assert (
        login(personas.engineer).patch(url, patch, content_type="application/json").status_code
        == 403
    )
    response = login(personas.msp_admin).patch(url, patch, content_type="application/json")
    assert response.status_code == 200 and response.json()["local_hour"] == 23
    bad = login(personas.msp_admin).patch(url, {"local_hour": 24}, content_type="application/json")
    assert bad.status_code == 400 and "local_hour" in bad.json()


def test_next_slot_follows_the_last_one():
    from inventory.schedule import next_discovery_slot

    now = datetime(2026, 1, 15, 7, 30, tzinfo=UTC)
    nxt = next_discovery_slot(now=now, tz=CHICAGO, cadence="daily", hour=2, weekday=6)
    assert nxt == datetime(2026, 1, 15, 2, 0, tzinfo=CHICAGO)

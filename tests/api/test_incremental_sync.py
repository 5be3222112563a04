"""Incremental sync: ``updated_at`` on every row, ``?updated_since=`` on every list.

The scenario: two devices report through ingest (which opens their findings); a client's
integrator lists the findings; one device installs its update and reports again (ingest
verifies that finding); the list with ``updated_since`` answers that finding only.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope
from tests.api.schema import SCHEMA, list_paths
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/findings/"


@pytest.fixture
def reader(tenant_a, make_token, api):
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    return api(plaintext)


def test_a_finding_verified_by_ingest_is_the_only_change_since_the_last_sync(tenant_a, reader):
    start = timezone.now()
    pc1 = Device("pc-sync-1").missing_kb("KB5100001", severity="critical")
    pc2 = Device("pc-sync-2").missing_kb("KB5100002", severity="high")
    with time_machine.travel(start, tick=False), tenant_context(tenant_a):
        push([pc1, pc2])
    first = reader.get(URL).json()
    assert {f["patch_identifier"] for f in first["results"]} == {"KB5100001", "KB5100002"}
    last_seen = max(f["updated_at"] for f in first["results"])

    later = start + timedelta(hours=2)
    with time_machine.travel(later, tick=False), tenant_context(tenant_a):
        push(pc1.fix("KB5100001"))

    changed = reader.get(URL, {"updated_since": later.isoformat()}).json()
    assert [f["patch_identifier"] for f in changed["results"]] == ["KB5100001"]
    assert changed["results"][0]["state"] == "verified"
    assert changed["results"][0]["updated_at"] > last_seen
    # Inclusive: the moment of the last row seen answers that row again, nothing older.
    again = reader.get(URL, {"updated_since": first["results"][0]["updated_at"]}).json()
    assert again["count"] == 2


def test_changes_page_in_updated_at_then_id_order(tenant_a, reader):
    start = timezone.now()
    devices = [Device(f"pc-page-{i}").missing_kb(f"KB52000{i}") for i in range(3)]
    for i, device in enumerate(devices):
        with (
            time_machine.travel(start + timedelta(minutes=i), tick=False),
            tenant_context(tenant_a),
        ):
            push(device)
    since = start.isoformat()
    pages = [
        reader.get(URL, {"updated_since": since, "limit": 1, "offset": n}).json() for n in range(3)
    ]
    assert [p["results"][0]["patch_identifier"] for p in pages] == [
        "KB520000",
        "KB520001",
        "KB520002",
    ]
    assert all(p["count"] == 3 for p in pages)


@pytest.mark.parametrize(
    "value, message",
    [
        ("yesterday", "Enter an ISO 8601 date and time"),
        ("2026-01-05T09:30:00", "Give the time's UTC offset"),
        ("2026-13-45T00:00:00Z", "Enter an ISO 8601 date and time"),
        ("0001-01-01T00:00:00+05:00", "Enter a date and time between the years 1 and 9999"),
    ],
)
def test_a_bad_updated_since_is_a_400_naming_the_format(reader, value, message):
    response = reader.get(URL, {"updated_since": value})
    assert response.status_code == 400
    assert response.json()["updated_since"][0].startswith(message)


def test_every_list_in_the_schema_offers_updated_since_and_every_row_updated_at():
    lists = list_paths()
    assert len(lists) > 30
    for path, operation, row in lists:
        params = {p["name"] for p in operation.get("parameters", [])}
        assert "updated_since" in params, path
        assert "updated_at" in row.get("properties", {}), path


def test_every_client_list_answers_updated_since(tenant_a, make_token, api, login, personas):
    """Each list of the schema, asked with ``updated_since`` by a principal that may read it,
    answers 200 (an MSP admin's session for the client lists, as it may read them all)."""
    http = login(personas.msp_admin)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    for path, _, _ in list_paths():
        if "{id}" in path or "{uuid}" in path:
            continue
        url = path.replace("{client_slug}", "tenant-a")
        response = http.get(url, {"updated_since": since})
        assert response.status_code == 200, (url, response.content[:300])
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
        assert isinstance(rows, list), url


assert SCHEMA["paths"]


def test_a_wave_moving_moves_its_rollout(tenant_a, login, personas, reader):
    """A rollout shows its waves: the rings service moving a wave (an ``update()`` of the wave
    row) is a change of the rollout for ``updated_since``."""
    from django.test import Client as HttpClient

    from findings.models import Finding
    from rings.choices import RolloutSelection
    from rings.models import Ring
    from rings.services import create_rollout, evaluate_rollout, pin_asset
    from tests import producers
    from tests.mfa import sign_in

    producers.all_day_window(sign_in(HttpClient(), personas.msp_admin))
    start = timezone.now()
    with time_machine.travel(start, tick=False), tenant_context(tenant_a):
        push(Device("pc-roll-1").missing_kb("KB5500001", severity="critical"))
        finding = Finding.objects.get(patch_identifier="KB5500001")
        pin_asset(
            asset=finding.asset,
            ring=Ring.objects.order_by("order").first(),
            actor=personas.engineer,
        )
        rollout = create_rollout(
            name="KB5500001 now",
            actor=personas.engineer,
            selection=RolloutSelection.FINDINGS,
            finding_ids=[finding.uuid],
        )
    url = "/clients/tenant-a/api/v1/rollouts/"
    before = reader.get(url, {"updated_since": start.isoformat()}).json()["results"]
    assert [r["id"] for r in before] == [str(rollout.uuid)]
    waves_before = [w["state"] for w in before[0]["waves"]]

    later = start + timedelta(hours=1)
    with time_machine.travel(later, tick=False), tenant_context(tenant_a):
        evaluate_rollout(rollout=rollout)
    after = reader.get(url, {"updated_since": later.isoformat()}).json()["results"]
    assert [r["id"] for r in after] == [str(rollout.uuid)]
    assert [w["state"] for w in after[0]["waves"]] != waves_before
    assert after[0]["updated_at"] == later.isoformat().replace("+00:00", "Z")

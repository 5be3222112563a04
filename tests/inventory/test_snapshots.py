"""Monthly inventory snapshots: content, SHA-256, immutability, schedule and API."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from inventory.models import InventorySnapshot
from inventory.services import create_snapshot
from inventory.tasks import create_monthly_snapshot, dispatch_snapshots
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/snapshots/"


@pytest.fixture
def fleet(in_tenant_a):
    pc = Device(
        "frontdesk-01", ephi=True, attributes={"data_flows": ["creates"]},
        programs={"Google Chrome": "124.0"}, hotfixes=["KB5036893"],
    )  # fmt: skip
    push([pc, Device("app-srv-01", os="ubuntu")])
    return pc.asset


def test_snapshot_stores_csv_and_json_with_their_sha256(fleet, in_tenant_a):
    snapshot = create_snapshot(client=in_tenant_a, actor="engineer@msp.test")
    csv_bytes = snapshot.csv_file.read()
    json_bytes = snapshot.json_file.read()
    assert hashlib.sha256(csv_bytes).hexdigest() == snapshot.csv_sha256
    assert hashlib.sha256(json_bytes).hexdigest() == snapshot.json_sha256
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode())))
    assert [r["record"] for r in rows].count("device") == 2
    chrome = next(r for r in rows if r["software_name"] == "Google Chrome")
    assert chrome["hostname"] == "frontdesk-01" and chrome["software_category"] == "browser"
    document = json.loads(json_bytes)
    device = next(d for d in document["devices"] if d["hostname"] == "frontdesk-01")
    assert device["ephi"] is True and len(device["software"]) == 2
    assert (snapshot.asset_count, snapshot.software_count) == (2, 2)
    assert (
        snapshot.csv_file.name.endswith(".csv") and str(snapshot.taken_on) in snapshot.csv_file.name
    )


def test_snapshot_is_immutable(fleet, in_tenant_a):
    snapshot = create_snapshot(client=in_tenant_a)
    snapshot.asset_count = 999
    with pytest.raises(ValidationError):
        snapshot.save()


def test_snapshot_month_follows_the_client_time_zone(fleet, in_tenant_a):
    # 03:00 UTC on 1 March is still 28 February in Chicago.
    with time_machine.travel(datetime(2026, 3, 1, 3, 0, tzinfo=UTC), tick=False):
        snapshot = create_snapshot(client=in_tenant_a, scheduled=True)
    assert str(snapshot.taken_on) == "2026-02-28" and str(snapshot.month) == "2026-02-01"


def test_scheduled_snapshot_once_per_month(fleet, in_tenant_a):
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False):
        first = create_monthly_snapshot()
        second = create_monthly_snapshot()
    assert first == second
    assert InventorySnapshot.objects.filter(is_scheduled=True).count() == 1


def test_dispatch_snapshots_sends_for_clients_without_one(fleet, in_tenant_a, monkeypatch):
    sent = []
    monkeypatch.setattr(create_monthly_snapshot, "apply_async", lambda *a, **k: sent.append(1))
    result = dispatch_snapshots()
    assert "tenant-a" in result["sent"] and len(sent) == len(result["sent"])


def test_api_snapshots_create_list_download(login, personas, tenant_a):
    with tenant_context(tenant_a):
        push(Device("frontdesk-01"))
    http = login(personas.engineer)
    created = http.post(URL)
    assert created.status_code == 201, created.content
    body = created.json()
    listing = http.get(URL).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]
    download = http.get(f"{URL}{body['id']}/download/?file=json")
    content = b"".join(download.streaming_content)
    assert (
        download.status_code == 200 and hashlib.sha256(content).hexdigest() == body["json_sha256"]
    )
    csv_download = http.get(f"{URL}{body['id']}/download/")
    assert csv_download["Content-Type"].startswith("text/csv")
    assert http.get(f"{URL}{body['id']}/download/?file=xls").status_code == 400


def test_api_snapshots_permissions(login, personas, http, tenant_a):
    assert http.get(URL).status_code == 401
    assert login(personas.viewer_a).post(URL).status_code == 403
    assert login(personas.owner_b).get(URL).status_code == 404
    assert login(personas.viewer_a).get(URL).status_code == 200

"""Inventory snapshots page under /clients/<slug>/snapshots/."""

from __future__ import annotations

import hashlib

import pytest
from django_tenants.utils import tenant_context

from inventory.models import InventorySnapshot
from inventory.services import create_snapshot
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/snapshots/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def snapshot(tenant_a):
    with tenant_context(tenant_a):
        push(Device("front-desk-01", programs={}))
        return create_snapshot(client=tenant_a, actor="engineer@msp.test", scheduled=True)


@pytest.mark.parametrize(
    "persona", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"]
)
def test_snapshots_render_for_view_roles(login, personas, snapshot, persona):
    response = login(getattr(personas, persona)).get(BASE)
    assert response.status_code == 200
    text = response.content.decode()
    assert snapshot.csv_sha256 in text and snapshot.json_sha256 in text
    assert f'href="{snapshot.uuid}/csv/"' in text and "Monthly" in text
    assert ("take-snapshot" in text) is (persona in ("msp_admin", "engineer"))


def test_snapshots_are_404_for_another_clients_owner(login, personas, snapshot):
    other = login(personas.owner_b)
    assert other.get(BASE).status_code == 404
    assert other.get(f"{BASE}{snapshot.uuid}/csv/").status_code == 404


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_download_matches_the_shown_sha256(login, personas, snapshot, kind):
    response = login(personas.owner_a).get(f"{BASE}{snapshot.uuid}/{kind}/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    expected = snapshot.csv_sha256 if kind == "csv" else snapshot.json_sha256
    assert hashlib.sha256(body).hexdigest() == expected == response["X-Content-SHA256"]
    assert b"front-desk-01" in body


def test_download_of_an_unknown_kind_is_404(login, personas, snapshot):
    assert login(personas.owner_a).get(f"{BASE}{snapshot.uuid}/xml/").status_code == 404


def test_take_snapshot_now(login, personas, tenant_a, snapshot):
    response = login(personas.engineer).post(BASE, follow=True)
    assert "Snapshot taken: 1 asset, 0 software rows." in response.content.decode()
    with tenant_context(tenant_a):
        assert InventorySnapshot.objects.filter(is_scheduled=False).count() == 1


@pytest.mark.parametrize("persona", ["account_manager", "owner_a", "viewer_a"])
def test_take_snapshot_needs_operate(login, personas, tenant_a, persona):
    assert login(getattr(personas, persona)).post(BASE).status_code == 403
    with tenant_context(tenant_a):
        assert not InventorySnapshot.objects.exists()


def test_no_snapshots_shows_empty_state(login, personas):
    assert 'data-testid="empty"' in login(personas.viewer_a).get(BASE).content.decode()

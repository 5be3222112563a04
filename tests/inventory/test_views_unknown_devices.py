"""Unknown-device triage queue under /clients/<slug>/unknown-devices/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset, UnknownDevice
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/unknown-devices/"


@pytest.fixture
def queue(tenant_a):
    """Three hosts a subnet scan found two days ago and again now; an engineer dismissed one."""
    import time_machine

    from inventory.services import dismiss_unknown_device
    from tests.producers import scan

    hosts = [
        {"status": "up", "ip": "10.0.0.50", "mac": "B8:27:EB:01:02:03",
         "mac_vendor": "Raspberry Pi Foundation", "hostnames": ["pi.lan"],
         "os_guesses": [{"name": "Linux 4.15 - 5.6", "accuracy": 95}]},
        {"status": "up", "ip": "10.0.0.60", "mac": "00:11:22:33:44:55", "mac_vendor": "HP"},
        {"status": "up", "ip": "10.0.0.70"},
    ]  # fmt: skip
    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(days=2), tick=False):
            scan(hosts)
        with time_machine.travel(now, tick=False):
            scan(hosts)
            old = UnknownDevice.objects.get(ip="10.0.0.70")
            dismiss_unknown_device(device=old, actor="engineer@msp.test", reason="Guest phone")
        return {d.ip: d for d in UnknownDevice.objects.all()} | {
            "pi": UnknownDevice.objects.get(ip="10.0.0.50"),
            "printer": UnknownDevice.objects.get(ip="10.0.0.60"),
            "old": UnknownDevice.objects.get(ip="10.0.0.70"),
        }


@pytest.mark.parametrize(
    "persona", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"]
)
def test_queue_renders_for_view_roles(login, personas, queue, persona):
    page = login(getattr(personas, persona)).get(BASE)
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        "pi.lan" in text and "Raspberry Pi Foundation" in text and "Linux 4.15 - 5.6 (95%)" in text
    )
    assert ("adopt-form" in text) is (persona in ("msp_admin", "engineer"))


def test_queue_is_404_for_another_clients_owner(login, personas, queue):
    other = login(personas.owner_b)
    assert other.get(BASE).status_code == 404
    assert other.post(f"{BASE}{queue['pi'].uuid}/dismiss/", {"reason": "x"}).status_code == 404


def test_queue_shows_summary_by_state_and_vendor(login, personas, queue):
    text = login(personas.viewer_a).get(BASE).content.decode()
    assert 'data-testid="count-new">2<' in text
    assert 'data-testid="count-dismissed">1<' in text
    assert "Raspberry Pi Foundation: 1" in text and "HP: 1" in text


def test_queue_defaults_to_new_and_filters_by_state(login, personas, queue):
    client = login(personas.viewer_a)
    rows = client.get(BASE).content.decode().count('data-testid="device-row"')
    assert rows == 2
    text = client.get(f"{BASE}?state=dismissed").content.decode()
    assert text.count('data-testid="device-row"') == 1 and "Guest phone" in text
    text = client.get(f"{BASE}?state=adopted").content.decode()
    assert 'data-testid="empty"' in text


def test_adopt_creates_an_asset_and_records_it(login, personas, queue, tenant_a):
    from inventory.models import Site

    with tenant_context(tenant_a):
        push(Device("annex-pc-01", attributes={"site": "Annex"}))  # its agent names the site
        site = Site.objects.get(name="Annex")
    response = login(personas.engineer).post(
        f"{BASE}{queue['pi'].uuid}/adopt/",
        {"hostname": "Lab-Pi", "asset_class": "do_not_disrupt", "role": "other",
         "os_family": "linux", "site": str(site.uuid)},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert "adopted as lab-pi" in response.content.decode()
    with tenant_context(tenant_a):
        asset = Asset.objects.get(hostname="lab-pi")
        assert asset.asset_class.key == "do_not_disrupt" and asset.os_family == "linux"
        assert asset.site == site and asset.mac_addresses == ["b8:27:eb:01:02:03"]
        pi = UnknownDevice.objects.get(pk=queue["pi"].pk)
        assert pi.state == "adopted" and pi.adopted_asset == asset
        assert EvidenceEvent.objects.filter(kind="unknown_device.adopted").count() == 1
    assert response.redirect_chain[-1][0].endswith(f"/assets/{asset.uuid}/")


def test_adopt_with_a_bad_class_writes_nothing(login, personas, queue, tenant_a):
    response = login(personas.engineer).post(
        f"{BASE}{queue['pi'].uuid}/adopt/",
        {"asset_class": "no-such-class", "role": "other", "os_family": "linux"},
        follow=True,
    )
    assert "was not adopted" in response.content.decode()
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.get(pk=queue["pi"].pk).state == "new"
        assert not Asset.objects.exists()


def test_dismiss_with_reason(login, personas, queue, tenant_a):
    response = login(personas.engineer).post(
        f"{BASE}{queue['printer'].uuid}/dismiss/", {"reason": "Lobby printer, isolated VLAN"},
        follow=True,
    )  # fmt: skip
    assert "dismissed." in response.content.decode()
    with tenant_context(tenant_a):
        printer = UnknownDevice.objects.get(pk=queue["printer"].pk)
        assert printer.state == "dismissed"
        assert printer.dismiss_reason == "Lobby printer, isolated VLAN"
        assert printer.decided_by == "engineer@msp.test"
        dismissed = EvidenceEvent.objects.filter(kind="unknown_device.dismissed")
        assert dismissed.filter(subject_id=str(printer.uuid)).count() == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_dismiss_without_reason_shows_error_and_changes_nothing(
    login, personas, queue, tenant_a, reason
):
    response = login(personas.engineer).post(
        f"{BASE}{queue['printer'].uuid}/dismiss/", {"reason": reason}, follow=True
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "was not dismissed: A reason is required to dismiss a device." in text
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.get(pk=queue["printer"].pk).state == "new"
        assert not EvidenceEvent.objects.filter(subject_id=str(queue["printer"].uuid)).exclude(
            kind="unknown_device.found"
        )


def test_an_already_decided_device_cannot_be_dismissed_again(login, personas, queue, tenant_a):
    response = login(personas.engineer).post(
        f"{BASE}{queue['old'].uuid}/dismiss/", {"reason": "again"}, follow=True
    )
    assert "Only a new device can be dismissed." in response.content.decode()
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.get(pk=queue["old"].pk).dismiss_reason == "Guest phone"


@pytest.mark.parametrize("persona", ["account_manager", "owner_a", "viewer_a"])
def test_triage_needs_operate(login, personas, queue, tenant_a, persona):
    client = login(getattr(personas, persona))
    assert client.post(f"{BASE}{queue['pi'].uuid}/dismiss/", {"reason": "x"}).status_code == 403
    adopt = {"asset_class": "workstation", "role": "other", "os_family": "linux"}
    assert client.post(f"{BASE}{queue['pi'].uuid}/adopt/", adopt).status_code == 403
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.get(pk=queue["pi"].pk).state == "new"


def test_queue_paginates(login, personas, tenant_a):
    from tests.producers import scan

    with tenant_context(tenant_a):
        scan([{"status": "up", "ip": f"10.1.0.{i + 1}"} for i in range(55)])
    client = login(personas.viewer_a)
    assert client.get(BASE).content.decode().count('data-testid="device-row"') == 50
    assert client.get(f"{BASE}?page=2").content.decode().count('data-testid="device-row"') == 5

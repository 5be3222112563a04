"""Nmap reconciliation, unknown-device triage and its API."""

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset, UnknownDevice
from inventory.services import reconcile_scan
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/unknown-devices/"


def host(ip, mac=None, status="up", **extra):
    return {
        "status": status,
        "ip": ip,
        "ipv6": None,
        "mac": mac,
        "mac_vendor": extra.pop("vendor", None),
        "hostnames": extra.pop("hostnames", []),
        "os_guesses": extra.pop("os_guesses", []),
        "open_ports": extra.pop("open_ports", []),
    }


SCAN = [
    host("10.0.0.5", "00:1A:2B:3C:4D:5E"),  # managed by MAC
    host("10.0.0.6"),  # managed by IP
    host(
        "10.0.0.50",
        "B8:27:EB:01:02:03",
        vendor="Raspberry Pi Foundation",
        hostnames=["pi.lan"],
        os_guesses=[{"name": "Linux 4.15 - 5.6", "accuracy": 95}],
        open_ports=[{"port": 22, "protocol": "tcp", "service": "ssh"}],
    ),
    host("10.0.0.51", vendor=None),
    host("10.0.0.52", status="down"),
]


@pytest.fixture
def managed(in_tenant_a):
    push([Device("pc-1", mac="00:1a:2b:3c:4d:5e"), Device("pc-2", ip="10.0.0.6")])


def test_reconcile_makes_unmatched_up_hosts_unknown_devices(managed):
    summary = reconcile_scan(SCAN, source_name="scan.xml")
    assert (summary.hosts_up, summary.matched_assets, summary.unknown_new, summary.ignored) == (
        4,
        2,
        2,
        1,
    )
    pi = UnknownDevice.objects.get(mac="b8:27:eb:01:02:03")
    assert pi.mac_vendor == "Raspberry Pi Foundation" and pi.hostnames == ["pi.lan"]
    assert pi.os_guesses == [{"name": "Linux 4.15 - 5.6", "accuracy": 95}]
    assert UnknownDevice.objects.get(ip="10.0.0.51").mac == ""
    assert EvidenceEvent.objects.filter(kind="unknown_device.found").count() == 2


def test_reconcile_twice_refreshes_without_duplicates(managed):
    reconcile_scan(SCAN, source_name="scan.xml")
    first_seen = UnknownDevice.objects.get(ip="10.0.0.50").first_seen
    summary = reconcile_scan(SCAN, source_name="scan2.xml")
    assert summary.unknown_new == 0 and summary.unknown_refreshed == 2
    assert UnknownDevice.objects.count() == 2
    device = UnknownDevice.objects.get(ip="10.0.0.50")
    assert device.first_seen == first_seen and device.source_name == "scan2.xml"


def test_adopt_creates_a_managed_asset_and_leaves_the_queue(managed):
    from inventory.models import AssetClass
    from inventory.services import adopt_unknown_device

    reconcile_scan(SCAN, source_name="scan.xml")
    device = UnknownDevice.objects.get(ip="10.0.0.50")
    asset = adopt_unknown_device(
        device=device,
        actor="engineer@msp.test",
        asset_class=AssetClass.objects.get(key="do_not_disrupt"),
        role="network",
    )
    assert asset.is_managed and asset.mac_addresses == ["b8:27:eb:01:02:03"]
    assert asset.hostname == "pi.lan" and asset.asset_class.key == "do_not_disrupt"
    device.refresh_from_db()
    assert device.state == "adopted" and device.adopted_asset == asset
    summary = reconcile_scan(SCAN, source_name="again.xml")
    assert summary.matched_assets == 3 and summary.unknown_new == 0


def test_api_unknown_devices_list_summary_adopt_dismiss(login, personas, tenant_a):
    with tenant_context(tenant_a):
        push([Device("pc-1", mac="00:1a:2b:3c:4d:5e"), Device("pc-2", ip="10.0.0.6")])
        reconcile_scan(SCAN, source_name="scan.xml")
        pi = str(UnknownDevice.objects.get(ip="10.0.0.50").uuid)
        other = str(UnknownDevice.objects.get(ip="10.0.0.51").uuid)
    http = login(personas.engineer)
    body = http.get(URL + "?state=new").json()
    assert body["count"] == 2
    assert http.get(URL + "?search=raspberry").json()["count"] == 1
    summary = http.get(URL + "summary/").json()
    assert (
        summary["new"] == 2 and summary["top_vendors"][0]["mac_vendor"] == "Raspberry Pi Foundation"
    )
    response = http.post(f"{URL}{other}/dismiss/", {}, content_type="application/json")
    assert response.status_code == 400 and "reason" in response.json()
    response = http.post(
        f"{URL}{other}/dismiss/", {"reason": "Guest Wi-Fi phone"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["state"] == "dismissed"
    response = http.post(
        f"{URL}{pi}/adopt/",
        {"asset_class": "workstation", "role": "shared_kiosk", "hostname": "lobby-kiosk"},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["hostname"] == "lobby-kiosk"
    again = http.post(f"{URL}{pi}/adopt/", {}, content_type="application/json")
    assert again.status_code == 400
    assert http.get(URL + "summary/").json() | {"top_vendors": [], "last_seen": None} == {
        "new": 0,
        "adopted": 1,
        "dismissed": 1,
        "top_vendors": [],
        "last_seen": None,
    }
    with tenant_context(tenant_a):
        assert Asset.objects.filter(hostname="lobby-kiosk", role="shared_kiosk").exists()


def test_api_unknown_devices_permissions(login, personas, http, tenant_a):
    with tenant_context(tenant_a):
        reconcile_scan(SCAN, source_name="scan.xml")
        uuid = str(UnknownDevice.objects.get(ip="10.0.0.51").uuid)
    assert http.get(URL).status_code == 401
    assert login(personas.owner_b).get(URL).status_code == 404
    viewer = login(personas.viewer_a)
    assert viewer.get(URL).status_code == 200
    response = viewer.post(
        f"{URL}{uuid}/dismiss/", {"reason": "x"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_api_adopt_bad_class_is_400(login, personas, tenant_a):
    with tenant_context(tenant_a):
        reconcile_scan(SCAN, source_name="scan.xml")
        uuid = str(UnknownDevice.objects.get(ip="10.0.0.51").uuid)
    response = login(personas.engineer).post(
        f"{URL}{uuid}/adopt/", {"asset_class": "spaceship"}, content_type="application/json"
    )
    assert response.status_code == 400 and "asset_class" in response.json()


def test_reconcile_tolerates_odd_host_dicts(in_tenant_a):
    hosts = [
        host("not-an-ip", "zz:zz"),  # nothing usable
        host("10.0.0.70", os_guesses=[{"name": "X", "accuracy": "n/a"}], hostnames=None),
        host("10.0.0.70"),  # listed twice
        "garbage",
        {"status": "up", "ip": None, "ipv6": "fe80::1", "mac": None},
    ]
    summary = reconcile_scan(hosts, source_name="odd.xml")
    assert summary.unknown_new == 2 and summary.ignored == 3
    assert UnknownDevice.objects.get(ip="10.0.0.70").os_guesses == [{"name": "X", "accuracy": 0}]


HOST_KEYS = ("ip", "ipv6", "mac", "mac_vendor", "hostnames", "os_guesses", "open_ports")


def test_reconcile_never_crashes_on_arbitrary_hosts(in_tenant_a):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    value = st.none() | st.text(max_size=20) | st.integers() | st.lists(st.text(max_size=5))
    hosts = st.lists(
        st.fixed_dictionaries(
            {"status": st.sampled_from(["up", "down", None])},
            optional={
                k: value | st.just("10.1.1.1") | st.just("aa:bb:cc:dd:ee:ff")
                for k in (
                    "ip",
                    "ipv6",
                    "mac",
                    "mac_vendor",
                    "hostnames",
                    "os_guesses",
                    "open_ports",
                )
            },
        ),
        max_size=5,
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(hosts)
    def run(scan):
        summary = reconcile_scan(scan, source_name="fuzz.xml")
        assert summary.hosts_up + summary.ignored == len(scan)

    run()


def test_nul_characters_in_a_scan_are_dropped_not_a_crash(in_tenant_a):
    """No PostgreSQL text or JSON value may hold NUL: a scan that carries one is stored clean."""
    scan = [
        {
            "status": "up",
            "ip": "10.1.1.77",
            "hostnames": ["prn\x00-01", "\x00"],
            "mac_vendor": "HP\x00",
            "os_guesses": [{"name": "Linux\x00 3.x", "accuracy": 90}],
            "open_ports": [{"port": 9100, "service": "jet\x00direct", "k\x00": ["\x00x"]}],
        },
        {"status": "up", "ip": "10.1.1.78", "mac_vendor": ["not", "text"]},
    ]
    summary = reconcile_scan(scan, source_name="scan.xml")
    assert summary.unknown_new == 2
    device = UnknownDevice.objects.get(ip="10.1.1.77")
    assert device.hostnames == ["prn-01"] and device.mac_vendor == "HP"
    assert device.os_guesses == [{"name": "Linux 3.x", "accuracy": 90}]
    assert device.open_ports == [{"port": 9100, "service": "jetdirect", "k": ["x"]}]
    assert UnknownDevice.objects.get(ip="10.1.1.78").mac_vendor == ""

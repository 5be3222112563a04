"""The inventory's list pages: count lines, sortable columns, CSV export of the filtered list
(an ``export.downloaded`` audit row) and filters a person can use (labels, "Any", checkboxes)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from common.pagination import PAGE_SIZE
from inventory.models import Asset, DiscoveryRun, InstalledSoftware, UnknownDevice
from tests.producers import Device, push, scan

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/"
EXTRA = 3  # assets past the first page


@pytest.fixture
def fleet(tenant_a):
    """A page and a bit of Windows PCs, two Linux servers and a Mac report through ingest (each
    with the default browser, the Linux ones with openssl too); a scan finds two unknown
    devices."""
    devices = [
        Device(f"pc-{i:03d}", attributes={"owner": f"Desk {i % 7}"}) for i in range(PAGE_SIZE)
    ]
    devices += [
        Device("lnx-b", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"}),
        Device("lnx-a", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.10"}),
        Device("mac-01", os="macos"),
    ][:EXTRA]
    with tenant_context(tenant_a):
        push(devices)
        scan(
            [
                {"status": "up", "ip": "10.0.0.98", "mac": "AA:BB:CC:00:00:98"},
                {"status": "up", "ip": "10.0.0.99", "mac": "AA:BB:CC:00:00:99"},
            ]
        )


def rows(response, testid: str) -> int:
    return response.content.decode().count(f'data-testid="{testid}"')


def first_column(response) -> list[str]:
    return re.findall(r'<a href="[0-9a-f-]{36}/">([^<]+)</a>', response.content.decode())


def parse_csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_asset_list_counts(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        total = Asset.objects.count()
        linux = Asset.objects.filter(os_family="linux").count()
    http = login(personas.viewer_a)
    page = http.get(BASE + "assets/").content.decode()
    assert f"1–{PAGE_SIZE} of {total} assets" in page
    second = http.get(BASE + "assets/?page=2").content.decode()
    assert f"{PAGE_SIZE + 1}–{total} of {total} assets" in second
    assert (
        f"1–{linux} of {linux} assets"
        in http.get(BASE + "assets/?os_family=linux").content.decode()
    )
    assert "0 assets" in http.get(BASE + "assets/?q=no-such-host").content.decode()


@pytest.mark.parametrize("sort", ["hostname", "-hostname", "-last_seen", "owner"])
def test_asset_list_sorts_by_whitelisted_columns(login, personas, fleet, tenant_a, sort):
    with tenant_context(tenant_a):
        want = list(
            Asset.objects.order_by(sort, "-pk" if sort.startswith("-") else "pk").values_list(
                "hostname", flat=True
            )[:PAGE_SIZE]
        )
    response = login(personas.viewer_a).get(BASE + f"assets/?sort={sort}")
    assert first_column(response) == want


@pytest.mark.parametrize("bad", ["password", "-", "--hostname", "hostname;drop", "x" * 300])
def test_bad_sort_values_are_ignored(login, personas, fleet, tenant_a, bad):
    with tenant_context(tenant_a):
        want = list(Asset.objects.order_by("hostname", "pk").values_list("hostname", flat=True))
    response = login(personas.viewer_a).get(BASE + "assets/", {"sort": bad})
    assert response.status_code == 200
    assert first_column(response) == want[:PAGE_SIZE]


def test_asset_csv_is_the_whole_filtered_list_and_is_recorded(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        want = list(
            Asset.objects.filter(os_family="windows")
            .order_by("-hostname", "-pk")
            .values_list("hostname", "owner")
        )
    assert len(want) > PAGE_SIZE - 1  # more than one page would show
    response = login(personas.viewer_a).get(
        BASE + "assets/?os_family=windows&sort=-hostname&export=csv"
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    parsed = parse_csv(response)
    assert [(r["hostname"], r["owner"]) for r in parsed] == want
    event = AuditEvent.objects.get(kind="export.downloaded")
    assert event.detail["export"] == "assets" and event.detail["rows"] == len(want)
    assert event.detail["filters"] == {"os_family": "windows", "sort": "-hostname"}
    assert event.actor_label == personas.viewer_a.email and event.client == tenant_a


def test_software_list_counts_sort_and_csv(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        openssl = list(
            InstalledSoftware.objects.filter(name__icontains="openssl")
            .order_by("-version", "-pk")
            .values_list("asset__hostname", "version")
        )
        total = InstalledSoftware.objects.count()
    http = login(personas.viewer_a)
    page = http.get(BASE + "software/")
    assert page.status_code == 200
    assert f"1–{min(total, PAGE_SIZE)} of {total} software rows" in page.content.decode()
    filtered = http.get(BASE + "software/?name=openssl&sort=-version").content.decode()
    assert f"1–{len(openssl)} of {len(openssl)} software rows" in filtered
    hosts = re.findall(r'<a href="/clients/tenant-a/assets/[0-9a-f-]{36}/">([^<]+)</a>', filtered)
    assert hosts == [h for h, _ in openssl]
    exported = parse_csv(http.get(BASE + "software/?name=openssl&sort=-version&export=csv"))
    assert [(r["hostname"], r["version"]) for r in exported] == openssl


def test_unknown_devices_counts_sort_and_csv(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        ips = list(UnknownDevice.objects.order_by("ip", "pk").values_list("ip", flat=True))
    http = login(personas.engineer)
    page = http.get(BASE + "unknown-devices/?sort=ip").content.decode()
    assert f"1–{len(ips)} of {len(ips)} devices" in page
    exported = parse_csv(http.get(BASE + "unknown-devices/?sort=-ip&export=csv"))
    assert [r["ip"] for r in exported] == list(reversed(ips))
    assert http.get(BASE + "unknown-devices/?sort=nonsense").status_code == 200


def test_discovery_runs_count_and_csv(login, personas, fleet, tenant_a):
    with tenant_context(tenant_a):
        runs = list(
            DiscoveryRun.objects.order_by("-started_at", "-pk").values_list("uuid", flat=True)
        )
    http = login(personas.engineer)
    page = http.get(BASE + "discovery-runs/").content.decode()
    assert f"1–{len(runs)} of {len(runs)} runs" in page
    exported = parse_csv(http.get(BASE + "discovery-runs/?export=csv"))
    assert [r["run_id"] for r in exported] == [str(u) for u in runs]


LIST_PAGES = [
    "assets/",
    "software/",
    "unknown-devices/",
    "discovery-runs/",
    "snapshots/",
]


@pytest.mark.parametrize("path", LIST_PAGES)
def test_filters_are_usable(login, personas, fleet, path):
    page = login(personas.engineer).get(BASE + path).content.decode()
    filters = re.search(r'<form method="get"[^>]*>(.*?)</form>', page, re.S)
    html = filters.group(1) if filters else ""
    for defect in ("<select multiple", 'select name="state" multiple', "---------"):
        assert defect not in html
    for django_default in (
        "is less than",
        "is greater than",
        "Asset class (key)",
        "Unknown</option>",
    ):
        assert django_default not in html
    labels = re.findall(r"<label>([^<]*)<", html)
    assert all(label.strip() for label in labels)
    for select in re.findall(r"<select[^>]*>.*?</select>", html, re.S):
        assert (
            '<option value="" selected>Any</option>' in select
            or '<option value="">Any</option>' in select
        )


def test_other_apps_filters_have_labels_and_any():
    """The register, rings and integrations filter sets (pages and API share them)."""
    from exceptions_register.filters import ExceptionFilterSet
    from integrations.filters import OutboxMessageFilterSet, PsaTicketFilterSet
    from rings.filters import (
        MaintenanceWindowFilterSet,
        PlacementRunFilterSet,
        RingMemberFilterSet,
        RolloutFilterSet,
    )

    for filterset in (
        ExceptionFilterSet,
        OutboxMessageFilterSet,
        PsaTicketFilterSet,
        MaintenanceWindowFilterSet,
        PlacementRunFilterSet,
        RingMemberFilterSet,
        RolloutFilterSet,
    ):
        html = str(filterset().form)
        assert "<select multiple" not in html and "multiple>" not in html, filterset
        assert "---------" not in html and "is less than" not in html, filterset
        assert "is greater than" not in html and "Unknown</option>" not in html, filterset

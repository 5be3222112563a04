"""Asset list and asset detail pages under /clients/<slug>/assets/."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/assets/"


def hostnames(response) -> list[str]:
    return re.findall(r'<a href="[0-9a-f-]{36}/">([^<]+)</a>', response.content.decode())


@pytest.fixture
def fleet(tenant_a):
    """Four devices report through ingest; mac-07 last reported three weeks ago and the daily
    staleness task has marked it stale."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from inventory.services import mark_stale_assets

    devices = {
        "ws": Device("front-desk-01", ephi=True, attributes={"data_flows": ["creates"]}),
        "srv": Device(
            "db-01", os="windows_server", attributes={"site": "Main clinic", "owner": "IT"}
        ),
        "mac": Device("mac-07", os="macos"),
        "lx": Device("scan-09", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"}),
    }
    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(days=21), tick=False):
            push(devices["mac"])
        with time_machine.travel(now - timedelta(hours=1), tick=False):
            push([d for key, d in devices.items() if key != "mac"])
        assert mark_stale_assets(stale_after_days=14, now=now) == 1
        return {key: device.asset for key, device in devices.items()} | {"devices": devices}


@pytest.mark.parametrize(
    "persona", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"]
)
def test_asset_pages_render_for_view_roles(login, personas, fleet, persona):
    client = login(getattr(personas, persona))
    response = client.get(BASE)
    assert response.status_code == 200
    assert "front-desk-01" in hostnames(response)
    assert client.get(f"{BASE}{fleet['ws'].uuid}/").status_code == 200


def test_asset_pages_hide_the_client_from_other_clients(http, login, personas, fleet):
    assert http.get(BASE).status_code == 302
    other = login(personas.owner_b)
    assert other.get(BASE).status_code == 404
    assert other.get(f"{BASE}{fleet['ws'].uuid}/").status_code == 404
    assert other.post(BASE, {"assets": [fleet["ws"].uuid], "is_ephi": "no"}).status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("os_family=macos", ["mac-07"]),
        ("os_family=windows&os_family=linux", ["db-01", "front-desk-01", "scan-09"]),
        ("role=server", ["db-01", "scan-09"]),
        ("asset_class=core_server", ["db-01", "scan-09"]),
        ("is_ephi=true", ["front-desk-01"]),
        ("is_stale=true", ["mac-07"]),
        ("unknown=true", []),  # scanned devices wait in the unknown-device queue instead
        ("is_managed=true", ["db-01", "front-desk-01", "mac-07", "scan-09"]),
        ("site=main+clinic", ["db-01"]),
        ("q=desk", ["front-desk-01"]),
    ],
)
def test_asset_list_filters_narrow_the_list(login, personas, fleet, query, expected):
    response = login(personas.viewer_a).get(f"{BASE}?{query}")
    assert hostnames(response) == expected


def test_asset_list_shows_columns_and_consistent_ephi_label(login, personas, fleet):
    page = login(personas.viewer_a).get(BASE).content.decode()
    assert "ePHI system: yes" in page and "ePHI system: no" in page
    assert "Stale" in page and "Main clinic" in page and "creates" in page


def test_asset_list_empty_states(login, personas, fleet):
    page = login(personas.viewer_a).get(f"{BASE}?q=nothing-like-this").content.decode()
    assert "No asset matches these filters" in page
    page = login(personas.viewer_a).get("/clients/tenant-b/assets/")
    assert page.status_code == 404
    admin_page = login(personas.msp_admin).get("/clients/tenant-b/assets/").content.decode()
    assert "No assets yet" in admin_page


def test_asset_list_paginates_fifty_per_page(login, personas, tenant_a):
    with tenant_context(tenant_a):
        push([Device(f"pc-{i:03d}") for i in range(120)])
    client = login(personas.viewer_a)
    first = client.get(BASE)
    assert len(hostnames(first)) == 50
    assert 'href="?page=3"' in first.content.decode()
    third = client.get(f"{BASE}?page=3")
    assert len(hostnames(third)) == 20
    assert not set(hostnames(first)) & set(hostnames(third))


def test_asset_list_pagination_keeps_the_filters(login, personas, tenant_a):
    with tenant_context(tenant_a):
        push([Device(f"lnx-{i:02d}", os="ubuntu") for i in range(60)])
        push([Device(f"pc-{i:02d}") for i in range(5)])
    page = login(personas.viewer_a).get(f"{BASE}?os_family=linux").content.decode()
    assert "?os_family=linux&amp;page=2" in page


@pytest.mark.parametrize("count", [5, 50])
def test_asset_list_query_count_does_not_grow(
    login, personas, tenant_a, count, django_assert_max_num_queries
):
    with tenant_context(tenant_a):
        attributes = {"site": "Annex", "data_flows": ["receives"]}
        push([Device(f"pc-{i:02d}", attributes=attributes) for i in range(count)])
    client = login(personas.engineer)
    client.get(BASE)  # warm the session and the tenant lookup
    # 8 queries, each after its SET search_path; the same for 5 and for 50 rows.
    with django_assert_max_num_queries(16):
        response = client.get(f"{BASE}?is_ephi=false")
    assert len(hostnames(response)) == count


def test_bulk_tag_sets_ephi_and_flows_through_the_service(login, personas, fleet, tenant_a):
    ids = [fleet["srv"].uuid, fleet["mac"].uuid]
    response = login(personas.engineer).post(
        BASE,
        {
            "assets": ids,
            "is_ephi": "yes",
            "set_flows": "on",
            "data_flows": ["receives", "transmits"],
        },
        follow=True,
    )
    assert "Tagged 2 of 2 selected assets." in response.content.decode()
    with tenant_context(tenant_a):
        for asset in Asset.objects.filter(uuid__in=ids):
            assert asset.is_ephi and asset.data_flows == ["receives", "transmits"]
        assert EvidenceEvent.objects.filter(kind="asset.tagged").count() == 2
        assert Asset.objects.get(hostname="front-desk-01").data_flows == ["creates"]


def test_bulk_tag_leaves_flows_alone_unless_asked(login, personas, fleet, tenant_a):
    login(personas.engineer).post(BASE, {"assets": [fleet["ws"].uuid], "is_ephi": "no"})
    with tenant_context(tenant_a):
        asset = Asset.objects.get(hostname="front-desk-01")
        assert asset.is_ephi is False and asset.data_flows == ["creates"]


def test_bulk_tag_without_a_change_or_selection_writes_nothing(login, personas, fleet, tenant_a):
    client = login(personas.engineer)
    page = client.post(BASE, {"assets": [fleet["srv"].uuid]}, follow=True).content.decode()
    assert "nothing would change" in page
    page = client.post(BASE, {"is_ephi": "yes"}, follow=True).content.decode()
    assert "Select assets." in page
    with tenant_context(tenant_a):
        assert not EvidenceEvent.objects.filter(kind="asset.tagged").exists()
        assert Asset.objects.filter(is_ephi=True).count() == 1


@pytest.mark.parametrize("persona", ["account_manager", "owner_a", "viewer_a"])
def test_tagging_needs_operate(login, personas, fleet, tenant_a, persona):
    client = login(getattr(personas, persona))
    assert client.post(BASE, {"assets": [fleet["srv"].uuid], "is_ephi": "yes"}).status_code == 403
    detail = f"{BASE}{fleet['srv'].uuid}/"
    assert client.post(detail, {"is_ephi": "yes"}).status_code == 403
    assert b"tag-form" not in client.get(detail).content
    with tenant_context(tenant_a):
        assert not Asset.objects.get(hostname="db-01").is_ephi


def test_asset_detail_shows_software_kbs_updates_history_and_findings(
    login, personas, fleet, tenant_a
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from findings.models import Finding

    # Its agent reports Chrome 119 with one KB installed and the January update pending, then
    # Chrome 120 the next day.
    pc = Device("reception-02", programs={"Google Chrome": "119.0"}, hotfixes=["KB5034441"])
    pc.missing_kb("KB5034123")
    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(days=1), tick=False):
            push(pc)
        pc.programs["Google Chrome"] = "120.0"
        with time_machine.travel(now, tick=False):
            push(pc)
        asset = pc.asset
        finding = Finding.objects.get(asset=asset, patch_identifier="KB5034123")
    page = login(personas.viewer_a).get(f"{BASE}{asset.uuid}/").content.decode()
    software = page.split('data-testid="software"')[1].split("</table>")[0]
    hotfixes = page.split('data-testid="hotfixes"')[1].split("</table>")[0]
    assert "Google Chrome" in software and "KB5034441" not in software
    assert "KB5034441" in hotfixes
    assert 'class="badge blue">Browser' in software
    assert "KB5034123" in page and "119.0" in page and "120.0" in page
    assert f"/clients/tenant-a/findings/{finding.uuid}/" in page
    assert "Agent push" in page


def test_asset_detail_paginates_software(login, personas, fleet, tenant_a):
    server = fleet["devices"]["srv"]
    server.programs = {f"Line-of-business tool {i:02d}": "1.0.0" for i in range(55)}
    with tenant_context(tenant_a):
        push(server)  # its agent reports 55 programs
    client = login(personas.viewer_a)
    first = client.get(f"{BASE}{fleet['srv'].uuid}/").content.decode()
    assert first.count('data-testid="software-row"') == 50
    second = client.get(f"{BASE}{fleet['srv'].uuid}/?page=2").content.decode()
    assert second.count('data-testid="software-row"') == 5


def test_asset_detail_tag_form_records_through_the_service(login, personas, fleet, tenant_a):
    url = f"{BASE}{fleet['srv'].uuid}/"
    response = login(personas.engineer).post(
        url, {"is_ephi": "yes", "data_flows": ["transmits"]}, follow=True
    )
    assert "Saved: ePHI system, Data flows." in response.content.decode()
    with tenant_context(tenant_a):
        asset = Asset.objects.get(pk=fleet["srv"].pk)
        assert asset.is_ephi and asset.data_flows == ["transmits"]
        event = EvidenceEvent.objects.get(kind="asset.attributes_changed", subject_id="portal")
        assert event.payload["assets"][0]["changes"] == {
            "is_ephi": {"before": False, "after": True},
            "data_flows": {"before": [], "after": ["transmits"]},
        }


def test_asset_detail_tag_form_rejects_bad_input(login, personas, fleet, tenant_a):
    url = f"{BASE}{fleet['srv'].uuid}/"
    response = login(personas.engineer).post(url, {"is_ephi": "maybe", "data_flows": ["eats"]})
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    with tenant_context(tenant_a):
        assert not EvidenceEvent.objects.filter(subject_id="portal").exists()


def test_asset_detail_unknown_uuid_is_404(login, personas, fleet):
    response = login(personas.viewer_a).get(f"{BASE}00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_select_all_script_only_for_operators(login, personas, fleet):
    assert b"js/asset_list.js" in login(personas.engineer).get(BASE).content
    assert b"js/asset_list.js" not in login(personas.viewer_a).get(BASE).content

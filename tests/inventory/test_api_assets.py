"""/clients/<slug>/api/v1/assets/: list, filters, search, detail, tagging."""

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset
from tenants.choices import TokenScope
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/assets/"


@pytest.fixture
def fleet(tenant_a):
    """Six devices report through ingest; app-srv-01 reported last three weeks ago and the
    daily staleness task has marked it stale. A scanned device nobody adopted stays in the
    unknown-device queue, outside the assets."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from inventory.services import mark_stale_assets
    from tests.producers import scan

    devices = {
        "win": Device("frontdesk-01", ephi=True, attributes={"owner": "Reception"}).missing_kb(
            "KB5037771"
        ),
        "srv": Device("dc-01", os="windows_server"),
        "lnx": Device("app-srv-01", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"}),
        "mac": Device("mbp-dr-lee", os="macos"),
        "kiosk": Device("pacs-01", role="shared_kiosk", asset_class="do_not_disrupt"),
    }
    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(days=21), tick=False):
            push(devices["lnx"])
        with time_machine.travel(now - timedelta(days=1), tick=False):
            push([d for key, d in devices.items() if key != "lnx"])
            scan([{"status": "up", "ip": "10.0.0.99", "mac": "AA:BB:CC:00:00:99"}])
        assert mark_stale_assets(stale_after_days=14, now=now) == 1
        return {key: device.asset for key, device in devices.items()}


def names(response):
    return sorted(a["hostname"] for a in response.json()["results"])


def test_assets_anonymous_is_401(http, fleet):
    assert http.get(URL).status_code == 401


def test_assets_other_client_member_is_404(login, personas, fleet):
    assert login(personas.owner_b).get(URL).status_code == 404


def test_assets_outsider_is_404(login, personas, fleet):
    assert login(personas.nobody).get(URL).status_code == 404


def test_asset_detail_of_other_client_is_404(login, personas, fleet, tenant_b):
    uuid = fleet["win"].uuid
    assert (
        login(personas.engineer).get(f"/clients/tenant-b/api/v1/assets/{uuid}/").status_code == 404
    )


def test_assets_list_fields_and_pagination(login, personas, fleet):
    body = login(personas.viewer_a).get(URL + "?limit=2").json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"]
    row = login(personas.viewer_a).get(URL + "?search=frontdesk").json()["results"][0]
    for field in [
        "id",
        "hostname",
        "os_family",
        "os_name",
        "os_version",
        "role",
        "asset_class",
        "is_ephi",
        "owner",
        "location",
        "first_seen",
        "last_seen",
        "is_stale",
        "data_flows",
        "is_managed",
    ]:
        assert field in row
    assert row["id"] == str(fleet["win"].uuid) and row["is_ephi"] is True
    assert row["asset_class"] == "workstation"


@pytest.mark.parametrize(
    "query,expected",
    [
        ("os_family=linux", ["app-srv-01"]),
        ("os_family=macos", ["mbp-dr-lee"]),
        ("role=server", ["app-srv-01", "dc-01"]),
        ("asset_class=do_not_disrupt", ["pacs-01"]),
        ("is_ephi=true", ["frontdesk-01"]),
        ("is_stale=true", ["app-srv-01"]),
        ("unknown=true", []),  # the scanned device is in the unknown-device queue
        ("search=dr-lee", ["mbp-dr-lee"]),
        ("q=reception", ["frontdesk-01"]),
    ],
)
def test_assets_filters_narrow(login, personas, fleet, query, expected):
    assert names(login(personas.engineer).get(f"{URL}?{query}")) == expected


def test_assets_bad_filter_is_400(login, personas, fleet):
    response = login(personas.engineer).get(URL + "?os_family=beos")
    assert response.status_code == 400 and "os_family" in response.json()


def test_assets_brief(login, personas, fleet):
    body = login(personas.engineer).get(URL + "?brief=true").json()
    assert set(body["results"][0]) == {"id", "hostname", "os_family"}


def test_asset_detail_has_pending_updates(login, personas, fleet):
    body = login(personas.viewer_a).get(f"{URL}{fleet['win'].uuid}/").json()
    assert body["pending_updates"][0]["advisory"] == "KB5037771"
    assert body["software_count"] == 1


def test_asset_detail_unknown_id_is_404(login, personas, fleet):
    http = login(personas.engineer)
    assert http.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert http.get(f"{URL}not-a-uuid/").status_code == 404


def test_asset_list_query_count_is_flat(login, personas, fleet, django_assert_max_num_queries):
    http = login(personas.engineer)
    with django_assert_max_num_queries(12):
        http.get(URL)


def test_asset_patch_tags_ephi_and_flows(login, personas, fleet, tenant_a):
    url = f"{URL}{fleet['srv'].uuid}/"
    response = login(personas.engineer).patch(
        url,
        {"is_ephi": True, "data_flows": ["transmits", "creates"]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_ephi"] is True
    assert response.json()["data_flows"] == ["creates", "transmits"]
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.get(kind="asset.attributes_changed", subject_id="api")
        assert event.payload["assets"][0]["changes"]["is_ephi"] == {"before": False, "after": True}


def test_asset_patch_bad_flow_is_400(login, personas, fleet):
    url = f"{URL}{fleet['srv'].uuid}/"
    response = login(personas.engineer).patch(
        url, {"data_flows": ["teleports"]}, content_type="application/json"
    )
    assert response.status_code == 400 and "data_flows" in response.json()


def test_asset_patch_needs_operate(login, personas, fleet):
    url = f"{URL}{fleet['srv'].uuid}/"
    for user in (personas.viewer_a, personas.owner_a, personas.account_manager):
        response = login(user).patch(url, {"is_ephi": True}, content_type="application/json")
        assert response.status_code == 403


def test_asset_patch_read_token_is_403(make_token, api, tenant_a, fleet):
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    url = f"{URL}{fleet['srv'].uuid}/"
    assert (
        api(plaintext).patch(url, {"is_ephi": True}, content_type="application/json").status_code
        == 403
    )


def test_assets_bulk_tag(login, personas, fleet, tenant_a):
    ids = [str(fleet["srv"].uuid), str(fleet["lnx"].uuid)]
    response = login(personas.engineer).post(
        URL + "bulk-tag/", {"assets": ids, "is_ephi": True}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"matched": 2, "changed": 2}
    with tenant_context(tenant_a):
        assert set(Asset.objects.filter(is_ephi=True).values_list("hostname", flat=True)) == {
            "frontdesk-01",
            "dc-01",
            "app-srv-01",
        }


def test_assets_bulk_tag_unknown_asset_writes_nothing(login, personas, fleet, tenant_a):
    ids = [str(fleet["srv"].uuid), "00000000-0000-0000-0000-000000000001"]
    response = login(personas.engineer).post(
        URL + "bulk-tag/", {"assets": ids, "is_ephi": True}, content_type="application/json"
    )
    assert response.status_code == 400 and "assets" in response.json()
    with tenant_context(tenant_a):
        assert not Asset.objects.get(pk=fleet["srv"].pk).is_ephi


def test_assets_bulk_tag_needs_a_tag(login, personas, fleet):
    response = login(personas.engineer).post(
        URL + "bulk-tag/", {"assets": [str(fleet["srv"].uuid)]}, content_type="application/json"
    )
    assert response.status_code == 400


def test_assets_bulk_tag_viewer_is_403(login, personas, fleet):
    response = login(personas.viewer_a).post(
        URL + "bulk-tag/",
        {"assets": [str(fleet["srv"].uuid)], "is_ephi": True},
        content_type="application/json",
    )
    assert response.status_code == 403

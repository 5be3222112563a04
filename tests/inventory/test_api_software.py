"""/clients/<slug>/api/v1/software/ and /discovery-runs/."""

import pytest
from django_tenants.utils import tenant_context

from inventory.payload import validate_payloads
from inventory.services import run_ingest

from .payloads import ubuntu_payload, windows_payload

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/software/"


@pytest.fixture
def ingested(tenant_a):
    with tenant_context(tenant_a):
        validate_payloads(windows_payload())
        run, _ = run_ingest(
            data=[windows_payload(), ubuntu_payload()], source="agent", run_source="agent"
        )
        return run


def test_software_anonymous_401_and_outsider_404(http, login, personas, ingested):
    assert http.get(URL).status_code == 401
    assert login(personas.owner_b).get(URL).status_code == 404


def test_software_rows_carry_asset_name_version_vendor_category(login, personas, ingested):
    body = login(personas.viewer_a).get(URL + "?name=chrome").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["asset"]["hostname"] == "frontdesk-01"
    assert (row["name"], row["version"], row["vendor"], row["category"], row["kind"]) == (
        "Google Chrome",
        "124.0.6367.91",
        "Google LLC",
        "browser",
        "program",
    )


def test_windows_kbs_are_software_of_kind_hotfix(login, personas, ingested):
    body = login(personas.viewer_a).get(URL + "?kind=hotfix").json()
    assert sorted(r["name"] for r in body["results"]) == ["KB5036893", "KB5037591"]
    assert {r["category"] for r in body["results"]} == {"os_update"}


def test_software_filters(login, personas, ingested, tenant_a):
    http = login(personas.engineer)
    assert http.get(URL + "?category=java").json()["count"] == 2
    assert http.get(URL + "?category=remote_access").json()["count"] == 1
    assert http.get(URL + "?os_family=linux").json()["count"] == 3
    asset = http.get("/clients/tenant-a/api/v1/assets/?search=app-srv").json()["results"][0]
    assert http.get(f"{URL}?asset={asset['id']}").json()["count"] == 3
    assert http.get(URL + "?search=adobe").json()["count"] == 1
    assert http.get(URL + "?category=nonsense").status_code == 400


def test_software_detail_and_brief(login, personas, ingested):
    http = login(personas.engineer)
    row = http.get(URL + "?name=openssl").json()["results"][0]
    assert http.get(f"{URL}{row['id']}/").json()["name"] == "openssl"
    brief = http.get(URL + "?brief=1").json()["results"][0]
    assert set(brief) == {"id", "name", "version"}


def test_discovery_runs_list_and_detail(login, personas, ingested):
    http = login(personas.viewer_a)
    body = http.get("/clients/tenant-a/api/v1/discovery-runs/").json()
    assert body["count"] == 1
    run = body["results"][0]
    assert run["status"] == "succeeded" and run["counts"]["assets_created"] == 2
    detail = http.get(f"/clients/tenant-a/api/v1/discovery-runs/{run['id']}/").json()
    assert detail["id"] == str(ingested.uuid)
    assert http.get("/clients/tenant-a/api/v1/discovery-runs/?source=schedule").json()["count"] == 0
    assert http.get("/clients/tenant-a/api/v1/discovery-runs/?status=bogus").status_code == 400


def test_discovery_runs_outsider_404(login, personas, ingested):
    assert (
        login(personas.owner_b).get("/clients/tenant-a/api/v1/discovery-runs/").status_code == 404
    )


def test_asset_history_lists_software_changes(login, personas, tenant_a):
    with tenant_context(tenant_a):
        run_ingest(data=windows_payload(), source="agent", run_source="agent")
        later = windows_payload()
        later["programs"][0]["version"] = "125.0.6422.60"
        run_ingest(data=later, source="agent", run_source="agent")
    http = login(personas.viewer_a)
    asset = http.get("/clients/tenant-a/api/v1/assets/").json()["results"][0]
    history = http.get(f"/clients/tenant-a/api/v1/assets/{asset['id']}/history/").json()
    assert history == [
        {
            "change": "upgraded",
            "kind": "program",
            "name": "Google Chrome",
            "arch": "",
            "from_version": "124.0.6367.91",
            "to_version": "125.0.6422.60",
            "at": history[0]["at"],
        }
    ]
    assert (
        login(personas.owner_b)
        .get(f"/clients/tenant-a/api/v1/assets/{asset['id']}/history/")
        .status_code
        == 404
    )


def test_discovery_runs_and_unknown_devices_brief(login, personas, ingested):
    http = login(personas.viewer_a)
    run = http.get("/clients/tenant-a/api/v1/discovery-runs/?brief=true").json()["results"][0]
    assert set(run) == {"id", "source", "status", "started_at"}
    assert http.get("/clients/tenant-a/api/v1/unknown-devices/?brief=true").json()["count"] == 0

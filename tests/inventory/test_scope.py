"""Scope validation: coverage by OS family and category, no patch source, software list.

The fleet reports through ingest (agent payloads) and a network scan with an adoption; the
software policy is kept by an engineer through the API."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from inventory.choices import AssetSource, DiscoveryRunSource
from inventory.selectors import assets_without_patch_source, scope_report
from inventory.services import run_ingest
from tests.producers import adopt, scan

pytestmark = pytest.mark.django_db

WINDOWS = {"name": "Microsoft Windows 11 Pro", "version": "10.0.22631", "platform": "windows"}


def _device(hostname: str, os_version: dict, **tables) -> dict:
    return {"agent_id": f"agent-{hostname}", "system_info": {"hostname": hostname},
            "os_version": os_version, **tables}  # fmt: skip


@pytest.fixture
def fleet(in_tenant_a, personas, login):
    run_ingest(
        data=[
            _device("pc-1", WINDOWS, patches=[{"hotfix_id": "KB5031354"}], programs=[
                {"name": "Google Chrome", "version": "130.0"},
                {"name": "TeamViewer", "version": "15.52.3"},
            ]),
            _device("pc-2", WINDOWS, pending_updates=[]),  # a patch list with nothing pending
            _device("pc-3", WINDOWS),  # reported no patch or package list: no patch source
            _device("srv-1", {"name": "Ubuntu", "version": "22.04", "platform": "ubuntu"},
                    deb_packages=[{"name": "firefox", "version": "120.0", "arch": "amd64"}]),
            _device("mac-1", {"name": "macOS", "version": "14.6.1", "platform": "darwin"}),
        ],
        source=AssetSource.AGENT,
        run_source=DiscoveryRunSource.AGENT,
        source_name="clinic agents",
        fmt="osquery",
        actor="token:agents",
    )  # fmt: skip
    scan([
        {"status": "up", "ip": "10.0.0.9", "mac": "AA:BB:CC:00:00:09"},  # unknown: not in scope
        {"status": "up", "ip": "10.0.0.20", "mac": "AA:BB:CC:00:00:20", "hostnames": ["printer"]},
    ])  # fmt: skip
    adopt("10.0.0.20", actor=personas.engineer, hostname="printer-1")  # adopted network gear
    http = login(personas.engineer)
    for body in (
        {"name_pattern": "google chrome*", "is_supported": True},
        {"name_pattern": "TeamViewer*", "is_supported": False, "notes": "Use RMM"},
    ):
        response = http.post("/clients/tenant-a/api/v1/software-policies/", body,
                             content_type="application/json")  # fmt: skip
        assert response.status_code == 201, response.content


def test_scope_coverage_by_os_family(fleet):
    report = scope_report(today=date(2026, 3, 1))
    rows = {r["os_family"]: r for r in report.os_families}
    assert rows["windows"]["assets"] == 3 and rows["windows"]["with_patch_source"] == 2
    assert rows["windows"]["coverage_pct"] == pytest.approx(66.7)
    assert rows["linux"]["coverage_pct"] == 100.0
    assert rows["macos"]["without_patch_source"] == 1
    assert rows["other"]["assets"] == 1 and rows["other"]["coverage_pct"] == 0.0


def test_scope_categories_and_software_list(fleet):
    report = scope_report(today=date(2026, 3, 1))
    categories = {c["category"]: c for c in report.categories}
    browsers = categories["browser"]
    assert browsers["assets"] == 2 and browsers["products"] == 2
    assert browsers["supported_products"] == 1 and browsers["unlisted_products"] == 1
    assert categories["remote_access"]["unsupported_products"] == 1
    assert [p["name"] for p in report.unlisted_products] == ["firefox"]
    policies = {p["name_pattern"]: p for p in report.policies}
    assert policies["TeamViewer*"]["matching_assets"] == 1


def test_scope_assets_without_patch_source(fleet):
    names = sorted(assets_without_patch_source().values_list("hostname", flat=True))
    assert names == ["mac-1", "pc-3", "printer-1"]
    # Computers that never reported a patch list are not reporting (they count against
    # compliance); only the device no patch source covers is outside patch scope.
    report = scope_report()
    assert report.without_patch_source_count == 1
    assert [a["hostname"] for a in report.without_patch_source] == ["printer-1"]


def test_software_list_review_is_overdue_after_a_quarter(fleet, personas, login):
    import time_machine

    assert scope_report(today=date(2026, 3, 1)).review_overdue  # never reviewed
    with time_machine.travel("2026-01-05 15:00Z", tick=False):
        review = login(personas.engineer).post(
            "/clients/tenant-a/api/v1/software-policies/review/", {"notes": "Q1"}
        )
        assert review.status_code == 201, review.content
    report = scope_report(today=date(2026, 3, 1))
    assert not report.review_overdue and report.next_review_due == date(2026, 4, 7)
    assert scope_report(today=date(2026, 4, 8)).review_overdue


def test_api_scope_and_policies(login, personas, http, tenant_a):
    url = "/clients/tenant-a/api/v1/scope/"
    with tenant_context(tenant_a):
        scan([{"status": "up", "ip": "10.0.0.30", "mac": "AA:BB:CC:00:00:30"}])
        adopt("10.0.0.30", actor=personas.engineer, hostname="switch-1")
    assert http.get(url).status_code == 401
    assert login(personas.owner_b).get(url).status_code == 404
    body = login(personas.viewer_a).get(url).json()
    assert body["without_patch_source_count"] == 1 and body["review_overdue"] is True
    eng = login(personas.engineer)
    created = eng.post(
        "/clients/tenant-a/api/v1/software-policies/",
        {"name_pattern": "AnyDesk*", "is_supported": False, "notes": "Not allowed"},
        content_type="application/json",
    )
    assert created.status_code == 201
    duplicate = eng.post(
        "/clients/tenant-a/api/v1/software-policies/",
        {"name_pattern": "AnyDesk*", "is_supported": True},
        content_type="application/json",
    )
    assert duplicate.status_code == 400 and "name_pattern" in duplicate.json()
    review = eng.post("/clients/tenant-a/api/v1/software-policies/review/", {"notes": "Q1"})
    assert review.status_code == 201
    assert login(personas.viewer_a).get(url).json()["review_overdue"] is False
    viewer_post = login(personas.viewer_a).post(
        "/clients/tenant-a/api/v1/software-policies/", {"name_pattern": "x"}
    )
    assert viewer_post.status_code == 403

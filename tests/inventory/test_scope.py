"""Scope validation: coverage by OS family and category, no patch source, software list."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from inventory.models import SoftwarePolicy, SoftwarePolicyReview
from inventory.selectors import assets_without_patch_source, scope_report

from .factories import AssetFactory, InstalledSoftwareFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(in_tenant_a):
    win = AssetFactory(hostname="pc-1", software_tables=["program", "hotfix"])
    AssetFactory(hostname="pc-2", has_reported_updates=True)
    AssetFactory(hostname="pc-3")  # reported nothing: no patch source
    lnx = AssetFactory(linux=True, hostname="srv-1", software_tables=["deb"])
    AssetFactory(macos=True, hostname="mac-1")
    AssetFactory(unknown=True, hostname="10.0.0.9")  # unknown devices are not in scope
    AssetFactory(hostname="printer-1", os_family="other", role="network")  # adopted gear
    InstalledSoftwareFactory(asset=win, name="Google Chrome", category="browser")
    InstalledSoftwareFactory(asset=win, name="TeamViewer", category="remote_access")
    InstalledSoftwareFactory(asset=lnx, name="firefox", kind="deb", category="browser")
    SoftwarePolicy.objects.create(name_pattern="google chrome*", is_supported=True)
    SoftwarePolicy.objects.create(name_pattern="TeamViewer*", is_supported=False, notes="Use RMM")
    return win


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


def test_software_list_review_is_overdue_after_a_quarter(fleet):
    assert scope_report(today=date(2026, 3, 1)).review_overdue  # never reviewed
    SoftwarePolicyReview.objects.create(reviewed_on=date(2026, 1, 5), reviewed_by="am@msp.test")
    report = scope_report(today=date(2026, 3, 1))
    assert not report.review_overdue and report.next_review_due == date(2026, 4, 7)
    assert scope_report(today=date(2026, 4, 8)).review_overdue


def test_api_scope_and_policies(login, personas, http, tenant_a):
    url = "/clients/tenant-a/api/v1/scope/"
    with tenant_context(tenant_a):
        AssetFactory(hostname="switch-1", os_family="other", role="network")
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

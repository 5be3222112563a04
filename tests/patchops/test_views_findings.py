"""Findings, compliance and prioritization pages under /clients/<slug>/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.services import record_event
from tests.inventory.factories import AssetFactory
from tests.patchops.factories import FindingFactory

BASE = "/clients/tenant-a/"


@pytest.fixture
def two_findings(tenant_a):
    with tenant_context(tenant_a):
        now = timezone.now()
        kev = FindingFactory(
            asset=AssetFactory(hostname="front-desk-01"), tier="critical", is_kev=True,
            patch_identifier="KB5032190", detected_at=now - timedelta(days=3),
            due_at=now - timedelta(days=1),
        )  # fmt: skip
        other = FindingFactory(asset=AssetFactory(hostname="db-01", linux=True), tier="low")
        record_event(kind="finding.detected", subject_type="finding", subject_id=kev.uuid,
                     payload={"patch": "KB5032190"})  # fmt: skip
        return kev, other


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["findings/", "compliance/", "prioritization-log/", "sla-policy/"])
def test_pages_need_login_and_hide_other_clients(http, login, personas, path):
    assert http.get(BASE + path).status_code == 302
    assert login(personas.owner_b).get(BASE + path).status_code == 404
    assert login(personas.viewer_a).get(BASE + path).status_code == 200


@pytest.mark.django_db
def test_finding_list_filters(login, personas, two_findings):
    client = login(personas.engineer)
    page = client.get(BASE + "findings/?kev=true").content.decode()
    assert "front-desk-01" in page and "db-01" not in page
    page = client.get(BASE + "findings/?os_family=linux").content.decode()
    assert "db-01" in page and "front-desk-01" not in page
    page = client.get(BASE + "findings/?overdue=true").content.decode()
    assert "front-desk-01" in page and "db-01" not in page


@pytest.mark.django_db
def test_finding_detail_shows_timeline(login, personas, two_findings):
    kev, _ = two_findings
    page = login(personas.viewer_a).get(f"{BASE}findings/{kev.uuid}/")
    assert page.status_code == 200
    assert b"finding.detected" in page.content
    assert (
        login(personas.viewer_a)
        .get(f"{BASE}findings/{kev.uuid.hex[:8]}-0000-0000-0000-000000000000/")
        .status_code
        == 404
    )  # noqa: E501


@pytest.mark.django_db
def test_compliance_page_has_tier_os_and_class_tables(login, personas, two_findings):
    page = login(personas.viewer_a).get(BASE + "compliance/").content.decode()
    for testid in ("by-tier", "by-os-family", "by-asset-class", "compliance-pct"):
        assert f'data-testid="{testid}"' in page
    assert "50.00 %" in page  # front-desk-01 overdue, db-01 fine


@pytest.mark.django_db
def test_prioritization_page_and_csv(login, personas, two_findings):
    client = login(personas.account_manager)
    page = client.get(BASE + "prioritization-log/").content.decode()
    assert page.index("KB5032190") < page.index(two_findings[1].patch_identifier)
    response = client.get(BASE + "prioritization-log/?format=csv")
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("position,hostname") and len(lines) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["findings/", "compliance/", "prioritization-log/", "sla-policy/"])
def test_page_query_count_independent_of_client_size(
    login, personas, tenant_a, django_assert_max_num_queries, path
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(personas.engineer)

    def grow(n):
        with tenant_context(tenant_a):
            for _ in range(n):
                FindingFactory(asset=AssetFactory(), cves=["CVE-2024-0001"])

    grow(5)
    with CaptureQueriesContext(connection) as small:
        assert client.get(BASE + path).status_code == 200
    grow(45)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(BASE + path).status_code == 200

"""Findings, compliance and prioritization pages under /clients/<slug>/, fed by agent reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from findings.models import Finding
from tests.exceptions_register.factories import make_active
from tests.producers import Device, push

BASE = "/clients/tenant-a/"
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
D = timedelta(days=1)


@pytest.fixture
def findings(tenant_a, personas):
    """front-desk-01 misses a critical update for 3 days (overdue), db-01 a low one (not due),
    lab-01 had one that a later report verified, srv-01's overdue high is deferred."""
    with tenant_context(tenant_a):
        with time_machine.travel(NOW - 3 * D, tick=False):
            push(
                [
                    Device("front-desk-01").missing_kb("KB5032190", severity="critical"),
                    Device("lab-01").missing_kb("KB5032191", severity="high"),
                    Device("srv-01", os="windows_server").missing_kb("KB5032192"),
                ]
            )
        with time_machine.travel(NOW - D, tick=False):
            db = Device("db-01", os="ubuntu", packages={"sudo": "1.9.9-1ubuntu2.3"})
            push([db.missing_package("sudo", "1.9.9-1ubuntu2.4", severity="low"),
                  Device("lab-01").install_kb("KB5032191")])  # fmt: skip
            make_active(
                client=tenant_a,
                approver=personas.owner_a,
                assets=[Device("srv-01").asset],
                expires_at=datetime(2026, 6, 28, 23, 0, tzinfo=UTC),
            )
        return {f.asset.hostname: f for f in Finding.objects.select_related("asset")}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["findings/", "compliance/", "prioritization-log/", "sla-policy/"])
def test_pages_need_login_and_hide_other_clients(http, login, personas, path):
    assert http.get(BASE + path).status_code == 302
    assert login(personas.owner_b).get(BASE + path).status_code == 404
    assert login(personas.viewer_a).get(BASE + path).status_code == 200


@pytest.mark.django_db
def test_finding_list_opens_on_open_work_and_filters(login, personas, findings):
    client = login(personas.engineer)
    with time_machine.travel(NOW, tick=False):
        page = client.get(BASE + "findings/").content.decode()
        everything = client.get(BASE + "findings/?state=all").content.decode()
        verified = client.get(BASE + "findings/?state=verified").content.decode()
        overdue = client.get(BASE + "findings/?overdue=true").content.decode()
        linux = client.get(BASE + "findings/?os_family=linux").content.decode()
    listing = page.split('data-testid="finding-list"')[1]
    # Open work only, uncovered first (by due time), the deferred server last.
    assert "KB5032191" not in listing and "3 findings outstanding" in page
    assert listing.index("front-desk-01") < listing.index("db-01") < listing.index("srv-01")
    assert "excepted until 2026-06-28 18:00 CDT" in listing.split("srv-01")[1]
    assert "KB5032191" in everything and "verified included" in everything
    assert "KB5032191" in verified and "front-desk-01" not in verified.split("finding-list")[1]
    assert "front-desk-01" in overdue and "db-01" not in overdue.split("finding-list")[1]
    assert "db-01" in linux and "front-desk-01" not in linux.split("finding-list")[1]
    # Times are the client's, with the zone named: detected 7 Jun 15:00Z = 10:00 CDT.
    assert "2026-06-07 10:00 CDT" in listing


@pytest.mark.django_db
def test_compliance_page_has_tier_os_class_tables_and_the_silent_assets(
    login, personas, tenant_a, findings
):
    with tenant_context(tenant_a), time_machine.travel(NOW - 20 * D, tick=False):
        push(Device("kiosk-07"))  # reports once, then falls silent
    with time_machine.travel(NOW, tick=False):
        page = login(personas.viewer_a).get(BASE + "compliance/").content.decode()
    for testid in ("by-tier", "by-os-family", "by-asset-class", "compliance-pct"):
        assert f'data-testid="{testid}"' in page
    # In scope 5: front-desk-01 overdue, kiosk-07 silent; db-01, lab-01, srv-01 (excepted) fine.
    assert "60.00 %" in page and "3 of 5 assets in scope" in page
    silent = page.split('data-testid="not-reporting-list"')[1]
    assert "kiosk-07" in silent and "2026-05-21 10:00 CDT" in silent
    assert 'data-testid="not-reporting">1<' in page


@pytest.mark.django_db
def test_prioritization_page_and_csv_rank_excepted_work_last(login, personas, findings):
    client = login(personas.account_manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get(BASE + "prioritization-log/").content.decode()
        response = client.get(BASE + "prioritization-log/?format=csv")
    log = page.split('data-testid="prioritization-log"')[1]
    assert log.index("KB5032190") < log.index("sudo@") < log.index("KB5032192")
    assert "excepted until 2026-06-28 18:00 CDT" in log
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("position,hostname") and len(lines) == 4
    assert lines[-1].split(",")[5] == "KB5032192"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["findings/", "compliance/", "prioritization-log/", "sla-policy/"])
def test_page_query_count_independent_of_client_size(
    login, personas, tenant_a, django_assert_max_num_queries, path
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(personas.engineer)
    grown = [0]

    def grow(n):
        with tenant_context(tenant_a):
            fleet = [
                Device(f"grow-{grown[0] + i:03d}").missing_kb("KB5000009", cves=["CVE-2024-0001"])
                for i in range(n)
            ]
            push(fleet)
        grown[0] += n

    grow(5)
    with CaptureQueriesContext(connection) as small:
        assert client.get(BASE + path).status_code == 200
    grow(45)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(BASE + path).status_code == 200

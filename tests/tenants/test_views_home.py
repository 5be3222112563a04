"""The engineer home (/) and the client overview (/clients/<slug>/)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from scorecards.models import ScorecardRow
from tests.producers import Device, load_catalogue, push, reported_finding

pytestmark = pytest.mark.django_db

BASE = "/clients/tenant-a/"


def _row(client, day: date, *, pct: str = "90.00", critical: int = 0, regulated: bool = False):
    return ScorecardRow.objects.create(
        client=client,
        date=day,
        computed_at=timezone.now(),
        assets_in_scope=10,
        compliant_assets=int(Decimal(pct) / 10),
        compliance_pct=Decimal(pct),
        open_critical=critical,
        overdue_findings=critical,
        exceptions_active=2,
        is_regulated=regulated,
    )


@pytest.mark.parametrize("who", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"])
def test_client_home_renders_for_every_role(who, personas, login, tenant_a):
    with tenant_context(tenant_a):
        reported_finding(cves=["CVE-2024-0001"])
    response = login(getattr(personas, who)).get(BASE)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="client-title"' in body
    assert 'data-testid="overview-compliance"' in body
    assert 'data-testid="count-open"' in body
    assert ('data-testid="portal-link"' in body) == (who == "owner_a")
    assert ("/portal/exceptions/" in body) == (who == "owner_a")  # the Portal tab
    assert ('data-testid="overview-reports"' in body) is True  # every role here holds REPORTS


def test_client_home_nav_highlights_overview_and_hides_portal_for_staff(personas, login, tenant_a):
    body = login(personas.engineer).get(BASE).content.decode()
    assert f'href="{BASE}" class="active" aria-current="page">Overview' in body
    for section in ("assets/", "findings/", "compliance/", "rollouts/", "exceptions/", "reports/"):
        assert f'href="{BASE}{section}"' in body
    assert f'href="{BASE}evidence/"' in body
    assert "Portal</a>" not in body
    findings = login(personas.engineer).get(BASE + "prioritization-log/").content.decode()
    assert f'href="{BASE}findings/" class="active"' in findings


def test_client_home_counts_link_to_the_filtered_findings(personas, login, tenant_a, tmp_path):
    with tenant_context(tenant_a):
        load_catalogue(tmp_path, kev=["CVE-2024-0001"])  # KEV raises its finding to critical
        pc = Device("pc-1").missing_kb("KB5050001", cves=["CVE-2024-0001"], severity="high")
        push(pc.missing_kb("KB5050002", cves=["CVE-2024-0002"], severity="low"))
    body = login(personas.engineer).get(BASE).content.decode()
    assert "?overdue=true" in body and "is_kev=true" in body and "tier=critical" in body
    critical = body.split('data-testid="count-critical"')[1].split("</a>")[0]
    kev = body.split('data-testid="count-kev"')[1].split("</a>")[0]
    assert ">1<" in critical and ">1<" in kev


def test_client_home_of_a_brand_new_client_shows_empty_states(personas, login):
    call_command("create_client", "fresh-start", "--name", "Fresh Start")
    for who in ("msp_admin", "engineer"):
        response = login(getattr(personas, who)).get("/clients/fresh-start/")
        assert response.status_code == 200
        body = response.content.decode()
        assert "No managed assets in scope yet" in body
        assert "No rollout is running" in body
        assert "No reports yet" in body


def test_client_home_query_count_is_constant_with_5_or_50_assets(
    personas, login, tenant_a, tmp_path
):
    client = login(personas.owner_a)
    with tenant_context(tenant_a):
        load_catalogue(tmp_path, kev=["CVE-2024-0001"])
    grown = [0]

    def grow(n: int) -> None:
        """``n`` more PCs report one missing update each, every other one a KEV CVE."""
        first, grown[0] = grown[0], grown[0] + n
        with tenant_context(tenant_a):
            push(
                [
                    Device(f"pc-{i:03d}").missing_kb(
                        f"KB50{i:05d}", cves=["CVE-2024-0001" if i % 2 else "CVE-2024-0002"]
                    )
                    for i in range(first, first + n)
                ]
            )

    grow(5)
    client.get(BASE)  # warm per-process caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(BASE).status_code == 200
    grow(45)
    with CaptureQueriesContext(connection) as large:
        assert client.get(BASE).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_engineer_home_reads_scorecards_in_one_query(personas, login, tenant_a, tenant_b):
    http = login(personas.engineer)
    today = timezone.localdate()
    _row(tenant_a, today, pct="60.00", critical=5, regulated=True)
    _row(tenant_b, today, pct="99.00")
    http.get("/")
    with CaptureQueriesContext(connection) as few:
        assert http.get("/").status_code == 200
    for days in range(1, 30):  # a month of history must not add queries
        _row(tenant_a, today - timedelta(days=days))
        _row(tenant_b, today - timedelta(days=days))
    with CaptureQueriesContext(connection) as many:
        response = http.get("/")
    assert len(many.captured_queries) == len(few.captured_queries)
    scorecard_queries = [
        q["sql"] for q in many.captured_queries if "scorecards_scorecardrow" in q["sql"]
    ]
    assert len(scorecard_queries) == 1
    assert not any(
        "SET search_path" in q["sql"] and "c_" in q["sql"] for q in many.captured_queries
    )
    body = response.content.decode()
    assert "60.00 %" in body and "99.00 %" in body
    assert body.index("tenant-a") < body.index("tenant-b")  # riskiest first
    row_a = body.split('data-testid="client-row-tenant-a"')[1].split("</tr>")[0]
    assert 'data-testid="top-risk"' in row_a


def test_engineer_home_filters_by_name_and_sorts(personas, login, tenant_a, tenant_b):
    http = login(personas.engineer)
    today = timezone.localdate()
    _row(tenant_a, today, pct="60.00", critical=5)
    _row(tenant_b, today, pct="99.00")
    body = http.get("/?q=bravo").content.decode()
    assert 'data-testid="client-row-tenant-b"' in body
    assert 'data-testid="client-row-tenant-a"' not in body
    body = http.get("/?q=zzz").content.decode()
    assert "No client matches" in body
    body = http.get("/?sort=name").content.decode()
    assert body.index("client-row-tenant-a") < body.index("client-row-tenant-b")
    assert http.get("/?sort=bogus").status_code == 200


def test_engineer_home_shows_clients_without_scorecards(personas, login, tenant_a):
    body = login(personas.msp_admin).get("/").content.decode()
    assert 'data-testid="client-list"' in body
    assert "No scorecard yet" in body


def test_client_home_counts_silent_devices_against_compliance_and_lists_them(
    personas, login, tenant_a
):
    """Four agents report; one falls silent after 10 May; a printer adopted from a scan never
    reports a patch list. As of 1 June (staleness window 14 days)."""
    from datetime import UTC, datetime

    import time_machine

    from tests.producers import Device, adopt, push, scan

    june = datetime(2026, 6, 1, 15, tzinfo=UTC)
    with tenant_context(tenant_a):
        with time_machine.travel(datetime(2026, 5, 10, 15, tzinfo=UTC), tick=False):
            push(Device("reception-pc"))
            scan([{"status": "up", "ip": "10.3.0.40", "mac": "AA:BB:CC:03:00:40"}])
            adopt("10.3.0.40", actor=personas.engineer, hostname="printer-lobby")
        with time_machine.travel(june, tick=False):
            push([Device("ws-1"), Device("ws-2"), Device("srv-1", os="windows_server")])
    with time_machine.travel(june, tick=False):
        http = login(personas.engineer)
        page = http.get(BASE).content.decode()
        scope = http.get(BASE + "scope/").content.decode()
    compliance = page.split('data-testid="overview-compliance"')[1].split("</section>")[0]
    # 3 of the 4 in scope comply; the silent one counts against; the printer is outside scope.
    assert "75.00 %" in compliance and "3 of 4 assets in scope" in compliance
    assert 'data-testid="overview-not-reporting">1 not reporting' in compliance
    assert "1 outside patch scope" in compliance
    # The headline stands beside the per-OS figures, which show the silent device too.
    by_os = compliance.split('data-testid="overview-by-os"')[1]
    assert "Windows" in by_os and ">1</td>" in by_os
    silent = compliance.split('data-testid="overview-not-reporting-list"')[1]
    assert "reception-pc" in silent and "2026-05-10 10:00 CDT" in silent
    assert "ws-1" not in silent
    outside = scope.split('data-testid="no-patch-source"')[1].split("</ul>")[0]
    assert "printer-lobby" in outside and "outside patch scope" in outside

"""/clients/<slug>/api/v1/compliance/ and prioritization-log/, with inputs from the producers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from findings.models import Finding
from tests.exceptions_register.factories import make_active
from tests.producers import Device, load_catalogue, push

URL = "/clients/tenant-a/api/v1/compliance/"
LOG = "/clients/tenant-a/api/v1/prioritization-log/"
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
D = timedelta(days=1)


@pytest.mark.django_db
def test_compliance_access(http, login, personas):
    assert http.get(URL).status_code == 401
    assert login(personas.owner_b).get(URL).status_code == 404


@pytest.mark.django_db
def test_compliance_returns_breakdowns(login, personas, tenant_a):
    """A Linux core server with a medium update missing for 15 days (14-day window: overdue),
    a Windows workstation with nothing missing and one that went silent 20 days ago."""
    with tenant_context(tenant_a):
        with time_machine.travel(NOW - 20 * D, tick=False):
            push(Device("ws-silent"))
        with time_machine.travel(NOW - 15 * D, tick=False):
            lnx = Device("lnx-01", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"})
            push(lnx.missing_package("openssl", "3.0.2-0ubuntu1.16", severity="medium"))
        with time_machine.travel(NOW - D, tick=False):
            push([lnx, Device("ws-fine")])
    with time_machine.travel(NOW, tick=False):
        body = login(personas.viewer_a).get(URL).json()
    assert body["compliance"] == {"compliant": 1, "in_scope": 3, "pct": 33.33, "not_reporting": 1}
    assert body["outside_patch_scope"] == 0 and body["staleness_window_days"] == 14
    assert body["by_os_family"]["linux"] == {
        "compliant": 0, "in_scope": 1, "pct": 0.0, "not_reporting": 0,
    }  # fmt: skip
    assert body["by_os_family"]["windows"] == {
        "compliant": 1, "in_scope": 2, "pct": 50.0, "not_reporting": 1,
    }  # fmt: skip
    assert body["by_tier"]["medium"]["compliant"] == 1  # ws-fine; lnx-01 overdue, ws-silent silent
    assert body["by_tier"]["high"]["compliant"] == 2
    assert set(body["by_asset_class"]) == {"workstation", "core_server"}


@pytest.mark.django_db
def test_compliance_bad_period_is_400(login, personas):
    response = login(personas.viewer_a).get(URL + "?period_days=abc")
    assert response.status_code == 400
    assert "period_days" in response.json()


@pytest.fixture
def prioritized(tenant_a, personas, tmp_path):
    """Four outstanding findings and a verified one, from agent reports and the catalogue:
    a critical KEV finding on an ePHI workstation (two CVEs, one in KEV; CVSS 10, EPSS 0.9:
    50 + 22.5 + 10 + 5 = 87.50), a critical one without signals (0.00), a high one with CVSS
    9.8 (49.00), and a critical one on a server the client deferred (CVSS 9.8 + core server +
    server role = 59.00), which therefore ranks last."""
    with tenant_context(tenant_a):
        load_catalogue(
            tmp_path,
            kev=["CVE-2021-44228"],
            cvss={
                "CVE-2021-44228": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                "CVE-2024-30080": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            },
            epss={"CVE-2021-44228": "0.9"},
        )
        with time_machine.travel(NOW - 2 * D, tick=False):
            push(
                [
                    Device("ephi-01", ephi=True).missing_kb(
                        "KB5001001", cves=["CVE-2021-44228", "CVE-2024-30080"], severity="high"
                    ),
                    Device("ws-02").missing_kb("KB5001002", severity="critical"),
                    Device("ws-03").missing_kb("KB5001003", cves=["CVE-2024-30080"]),
                    Device("srv-04", os="windows_server").missing_kb(
                        "KB5001004", cves=["CVE-2024-30080"], severity="critical"
                    ),
                    Device("ws-05").missing_kb("KB5001005", severity="critical"),
                ]
            )
        with time_machine.travel(NOW - D, tick=False):
            push(Device("ws-05").install_kb("KB5001005"))  # verified: not listed
            exception = make_active(
                client=tenant_a,
                approver=personas.owner_a,
                assets=[Device("srv-04").asset],
                expires_at=datetime(2026, 6, 30, 23, 0, tzinfo=UTC),
            )
        return {f.patch_identifier: f for f in Finding.objects.all()}, exception


@pytest.mark.django_db
def test_prioritization_log_ranks_excepted_work_after_uncovered_work(login, personas, prioritized):
    findings, _ = prioritized
    client = login(personas.engineer)
    with time_machine.travel(NOW, tick=False):
        body = client.get(LOG).json()
    order = [r["finding"]["patch_identifier"] for r in body["results"]]
    # Uncovered first (critical by risk, then high), the deferred critical last.
    assert order == ["KB5001001", "KB5001002", "KB5001003", "KB5001004"]
    assert body["count"] == 4  # the verified one is not listed
    first, last = body["results"][0], body["results"][-1]
    # The reason names the CVE that KEV lists, not every CVE the update fixes.
    assert "(raised: CVE-2021-44228 in CISA KEV)" in first["reason"]
    assert "ePHI system" in first["reason"]
    assert first["finding"]["risk_score"] == "87.50" and first["finding"]["excepted_until"] is None
    assert last["finding"]["excepted_until"] == "2026-06-30T23:00:00Z"  # API: ISO 8601, UTC
    assert last["finding"]["risk_score"] == "59.00"
    # The reason, read by people, names the expiry in the client's zone (Chicago, CDT).
    assert "excepted until 2026-06-30 18:00 CDT, ranked after uncovered work" in last["reason"]


@pytest.mark.django_db
def test_prioritization_csv_keeps_the_order_and_the_expiry(login, personas, prioritized):
    client = login(personas.engineer)
    with time_machine.travel(NOW, tick=False):
        response = client.get(LOG + "?format=csv")
        page_csv = client.get("/clients/tenant-a/prioritization-log/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    assert header[0] == "position" and len(rows) == 5
    col = {name: i for i, name in enumerate(header)}
    assert [r[col["patch"]] for r in rows[1:]] == ["KB5001001", "KB5001002", "KB5001003",
                                                    "KB5001004"]  # fmt: skip
    assert [r[col["excepted_until"]] for r in rows[1:]] == ["", "", "", "2026-06-30T23:00:00+00:00"]
    page_rows = list(csv.reader(io.StringIO(page_csv.content.decode())))
    # The page's export is in the client's zone, with its offset.
    assert page_rows[4][col["excepted_until"]] == "2026-06-30T18:00:00-05:00"
    assert page_rows[1][col["detected_at"]] == "2026-06-08T10:00:00-05:00"


@pytest.mark.django_db
def test_findings_api_lists_excepted_work_after_uncovered_work(login, personas, prioritized):
    with time_machine.travel(NOW, tick=False):
        body = login(personas.viewer_a).get("/clients/tenant-a/api/v1/findings/").json()
    patches = [r["patch_identifier"] for r in body["results"]]
    assert patches[-1] == "KB5001004" and body["results"][-1]["excepted_until"]
    assert all(r["excepted_until"] is None for r in body["results"][:-1])

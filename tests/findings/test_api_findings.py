"""/clients/<slug>/api/v1/findings/: access matrix, shape, filters, constant query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from findings.models import Finding
from tenants.choices import TokenScope
from tests.producers import Device, load_catalogue, push

URL = "/clients/tenant-a/api/v1/findings/"
FIELDS = {
    "id", "asset", "advisory", "patch_identifier", "package_name", "installed_version",
    "fixed_version", "cves", "is_kev", "tier", "risk_score", "origin", "state", "detected_at",
    "due_at", "deployed_at", "verified_at", "awaiting_reboot_since", "is_overdue", "excepted_until",
    "match",
    "updated_at",
}  # fmt: skip


@pytest.fixture
def findings(tenant_a, tmp_path):
    """Reported through ingest, due by the default SLA policy:

    overdue  win-1 (Windows workstation) KB5031001 critical, CVE-2023-36033 in KEV, reported
             3 days ago: due after 48 h, a day ago
    soon     lin-1 (Linux core server) USN-6000-1 high, reported 2 days ago: due after 72 h,
             in a day
    later    win-1 KB5031002 low, reported now: due in 30 days
    """
    now = timezone.now()
    win = Device("win-1")
    lin = Device("lin-1", os="ubuntu", role="server", packages={"libexpat1": "2.4.7-1ubuntu0.3"})
    with tenant_context(tenant_a):
        load_catalogue(tmp_path, kev=["CVE-2023-36033"])
        with time_machine.travel(now - timedelta(days=3), tick=False):
            push(win.missing_kb("KB5031001", cves=["CVE-2023-36033"], severity="critical"))
        with time_machine.travel(now - timedelta(days=2), tick=False):
            push(lin.missing_package("libexpat1", "2.4.7-1ubuntu0.4", advisory="USN-6000-1",
                                     severity="high"))  # fmt: skip
        with time_machine.travel(now, tick=False):
            push(win.missing_kb("KB5031002", severity="low"))
        found = {f.patch_identifier: f for f in Finding.objects.all()}
        assert len(found) == 3
        return {"overdue": found["KB5031001"], "soon": found["USN-6000-1"],
                "later": found["KB5031002"]}  # fmt: skip


@pytest.mark.django_db
def test_findings_anonymous_is_401(http):
    assert http.get(URL).status_code == 401


@pytest.mark.django_db
def test_findings_other_client_is_404(login, personas):
    assert login(personas.owner_b).get(URL).status_code == 404


@pytest.mark.django_db
def test_findings_agent_token_is_403(api, make_token, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    assert api(plaintext).get(URL).status_code == 403


@pytest.mark.django_db
def test_findings_items_carry_the_contract_fields(login, personas, findings):
    body = login(personas.viewer_a).get(URL).json()
    assert body["count"] == 3
    item = next(i for i in body["results"] if i["id"] == str(findings["overdue"].uuid))
    assert set(item) == FIELDS
    assert item["is_kev"] is True and item["tier"] == "critical" and item["is_overdue"] is True
    assert item["cves"] == ["CVE-2023-36033"]
    assert set(item["asset"]) == {"id", "hostname", "os_family", "asset_class", "is_ephi"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overdue=true", {"overdue"}),
        ("due_soon=true", {"soon"}),
        ("tier=high", {"soon"}),
        ("os_family=linux", {"soon"}),
        ("is_kev=true", {"overdue"}),
        ("asset_class=core_server", {"soon"}),
        ("state=open", {"overdue", "soon", "later"}),
        ("q=lin-1", {"soon"}),
        ("q=CVE-2023-36033", {"overdue"}),
    ],
)
def test_findings_filters_narrow(login, personas, findings, query, expected):
    body = login(personas.engineer).get(f"{URL}?{query}").json()
    ids = {r["id"] for r in body["results"]}
    assert ids == {str(findings[k].uuid) for k in expected}


@pytest.mark.django_db
def test_findings_bad_filter_is_400(login, personas):
    response = login(personas.engineer).get(f"{URL}?tier=catastrophic")
    assert response.status_code == 400
    assert "tier" in response.json()


@pytest.mark.django_db
def test_findings_cannot_be_written(login, personas, findings):
    client = login(personas.msp_admin)
    detail = f"{URL}{findings['overdue'].uuid}/"
    assert client.get(detail).status_code == 200
    assert (
        client.patch(detail, {"state": "verified"}, content_type="application/json").status_code
        == 405
    )
    assert client.post(URL, {}, content_type="application/json").status_code == 405


def _assets(tenant, n):
    """``n`` more PCs report one missing update each."""
    with tenant_context(tenant):
        start = Finding.objects.count()
        push([Device(f"pc-{start + i:03d}").missing_kb(f"KB51{start + i:05d}") for i in range(n)])


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["findings/", "compliance/", "prioritization-log/", "sla-policy/"])
def test_query_count_independent_of_client_size(
    login, personas, tenant_a, django_assert_max_num_queries, path
):
    client = login(personas.engineer)
    url = f"/clients/tenant-a/api/v1/{path}"
    _assets(tenant_a, 5)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _assets(tenant_a, 45)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200

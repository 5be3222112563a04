"""/clients/<slug>/api/v1/findings/: access matrix, shape, filters, constant query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope
from tests.findings.factories import FindingFactory
from tests.inventory.factories import AssetFactory

URL = "/clients/tenant-a/api/v1/findings/"
FIELDS = {
    "id", "asset", "advisory", "patch_identifier", "package_name", "installed_version",
    "fixed_version", "cves", "kev", "tier", "risk_score", "origin", "state", "detected_at",
    "due_at", "deployed_at", "verified_at", "is_overdue", "excepted_until", "match",
}  # fmt: skip


@pytest.fixture
def findings(tenant_a):
    with tenant_context(tenant_a):
        now = timezone.now()
        win = AssetFactory(hostname="win-1")
        lin = AssetFactory(hostname="lin-1", linux=True, core_server=True)
        overdue = FindingFactory(
            asset=win, tier="critical", is_kev=True, cves=["CVE-2023-36033"],
            detected_at=now - timedelta(days=3), due_at=now - timedelta(days=1),
        )  # fmt: skip
        soon = FindingFactory(
            asset=lin, tier="high", detected_at=now - timedelta(days=1),
            due_at=now + timedelta(hours=10), patch_identifier="USN-6000-1",
        )  # fmt: skip
        later = FindingFactory(asset=win, tier="low", due_at=now + timedelta(days=20))
        return {"overdue": overdue, "soon": soon, "later": later}


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
    assert item["kev"] is True and item["tier"] == "critical" and item["is_overdue"] is True
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
        ("kev=true", {"overdue"}),
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
    with tenant_context(tenant):
        for _ in range(n):
            FindingFactory(asset=AssetFactory())


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

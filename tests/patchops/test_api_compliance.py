"""/clients/<slug>/api/v1/compliance/ and prioritization-log/."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.inventory.factories import AssetFactory
from tests.patchops.factories import FindingFactory

URL = "/clients/tenant-a/api/v1/compliance/"


@pytest.mark.django_db
def test_compliance_access(http, login, personas):
    assert http.get(URL).status_code == 401
    assert login(personas.owner_b).get(URL).status_code == 404


@pytest.mark.django_db
def test_compliance_returns_breakdowns(login, personas, tenant_a):
    with tenant_context(tenant_a):
        now = timezone.now()
        FindingFactory(asset=AssetFactory(linux=True), due_at=now - timedelta(hours=1),
                       detected_at=now - timedelta(days=2))  # fmt: skip
        AssetFactory()
    body = login(personas.viewer_a).get(URL).json()
    assert body["compliance"] == {"compliant": 1, "in_scope": 2, "pct": 50.0}
    assert body["by_os_family"]["linux"]["pct"] == 0.0
    assert body["by_os_family"]["windows"]["pct"] == 100.0
    assert body["by_tier"]["high"]["compliant"] == 1
    assert set(body["by_asset_class"]) == {"workstation"}


@pytest.mark.django_db
def test_compliance_bad_period_is_400(login, personas):
    response = login(personas.viewer_a).get(URL + "?period_days=abc")
    assert response.status_code == 400
    assert "period_days" in response.json()


@pytest.mark.django_db
def test_prioritization_log_orders_by_tier_then_risk_with_reasons(login, personas, tenant_a):
    with tenant_context(tenant_a):
        low_risk = FindingFactory(tier="critical", risk_score=10)
        FindingFactory(tier="high", risk_score=99)
        high_risk = FindingFactory(
            tier="critical", risk_score=60, is_kev=True, cves=["CVE-2021-44228"],
            asset=AssetFactory(is_ephi=True),
        )  # fmt: skip
        FindingFactory(verified=True, tier="critical", risk_score=100)
    client = login(personas.engineer)
    body = client.get("/clients/tenant-a/api/v1/prioritization-log/").json()
    order = [r["finding"]["id"] for r in body["results"]]
    assert order[:2] == [str(high_risk.uuid), str(low_risk.uuid)]
    assert body["count"] == 3  # the verified one is not listed
    assert "CVE-2021-44228 in CISA KEV" in body["results"][0]["reason"]
    assert "ePHI system" in body["results"][0]["reason"]
    response = client.get("/clients/tenant-a/api/v1/prioritization-log/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "position" and len(rows) == 4
    assert rows[1][7] == "critical" and rows[3][7] == "high"

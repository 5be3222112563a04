"""Cross-client lists (``/api/v1/findings/``, ``assets/``, ``exceptions/``) for MSP-wide
principals, over two clients whose devices reported through ingest."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope
from tests.exceptions_register.factories import make_exception
from tests.producers import Device, push

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clients(tenant_a, tenant_b):
    """Tenant A: two PCs miss a critical and a high update; tenant B: one server misses a low
    one. All through ingest."""
    start = timezone.now()
    a1 = Device("a-pc-1").missing_kb("KB5300001", severity="critical")
    a2 = Device("a-pc-2").missing_kb("KB5300002", severity="high")
    b1 = Device("b-srv-1", os="windows_server").missing_kb("KB5300003", severity="low")
    with time_machine.travel(start, tick=False):
        with tenant_context(tenant_a):
            push([a1, a2])
        with tenant_context(tenant_b):
            push(b1)
    return {"start": start, "a1": a1, "b1": b1}


@pytest.fixture
def msp_reader(make_token, api):
    _, plaintext = make_token(TokenScope.READ, None)
    return api(plaintext)


def test_findings_of_every_client_each_naming_its_client(two_clients, msp_reader):
    body = msp_reader.get("/api/v1/findings/").json()
    rows = {(r["client"], r["patch_identifier"], r["hostname"]) for r in body["results"]}
    assert rows == {
        ("tenant-a", "KB5300001", "a-pc-1"),
        ("tenant-a", "KB5300002", "a-pc-2"),
        ("tenant-b", "KB5300003", "b-srv-1"),
    }
    assert body["count"] == 3
    names = {r["client"]: r["client_name"] for r in body["results"]}
    assert names["tenant-b"] and names["tenant-a"] != names["tenant-b"]


def test_filters_pagination_and_updated_since(two_clients, tenant_a, msp_reader):
    def patches(**params):
        body = msp_reader.get("/api/v1/findings/", params).json()
        return [r["patch_identifier"] for r in body["results"]]

    assert patches(client="tenant-b") == ["KB5300003"]
    assert sorted(patches(tier="critical,low")) == ["KB5300001", "KB5300003"]
    assert patches(search="a-pc-2") == ["KB5300002"]
    scores = [
        float(r["risk_score"])
        for r in msp_reader.get("/api/v1/findings/", {"ordering": "-risk_score"}).json()["results"]
    ]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    pages = [patches(limit=1, offset=n) for n in range(3)]
    assert sorted(p[0] for p in pages) == ["KB5300001", "KB5300002", "KB5300003"]

    later = two_clients["start"] + timedelta(hours=3)
    with time_machine.travel(later, tick=False), tenant_context(tenant_a):
        push(two_clients["a1"].fix("KB5300001"))
    changed = msp_reader.get("/api/v1/findings/", {"updated_since": later.isoformat()}).json()
    assert [(r["client"], r["patch_identifier"], r["state"]) for r in changed["results"]] == [
        ("tenant-a", "KB5300001", "verified")
    ]


@pytest.mark.parametrize(
    "params, field, allowed",
    [
        ({"tier": "catastrophic"}, "tier", "critical"),
        ({"client": "tenant-z"}, "client", "tenant-a"),
        ({"ordering": "colour"}, "ordering", "-due_at"),
        ({"is_kev": "maybe"}, "is_kev", "true"),
        ({"updated_since": "2026-01-05 09:30"}, "updated_since", "offset"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_allowed_values(
    two_clients, msp_reader, params, field, allowed
):
    response = msp_reader.get("/api/v1/findings/", params)
    assert response.status_code == 400
    assert allowed in " ".join(response.json()[field])


def test_assets_and_exceptions_across_clients(two_clients, tenant_b, msp_reader, personas):
    assets = msp_reader.get("/api/v1/assets/", {"ordering": "hostname"}).json()
    assert [(r["client"], r["hostname"]) for r in assets["results"]] == [
        ("tenant-a", "a-pc-1"),
        ("tenant-a", "a-pc-2"),
        ("tenant-b", "b-srv-1"),
    ]
    with tenant_context(tenant_b):
        from findings.models import Finding

        exception = make_exception(
            client=tenant_b,
            approver=personas.owner_b,
            actor=personas.engineer,
            findings=list(Finding.objects.all()),
            ticket_reference="CHG-7788",
        )
    body = msp_reader.get("/api/v1/exceptions/", {"search": "CHG-7788"}).json()
    assert [(r["client"], r["id"]) for r in body["results"]] == [("tenant-b", str(exception.uuid))]
    assert msp_reader.get("/api/v1/exceptions/", {"client": "tenant-a"}).json()["count"] == 0


def test_a_page_is_two_queries_however_many_clients(two_clients, msp_reader):
    with CaptureQueriesContext(connection) as queries:
        response = msp_reader.get("/api/v1/findings/", {"limit": 2})
    assert response.status_code == 200
    union = [q["sql"] for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    assert len(union) == 2  # the count and the page, each one statement over both schemas
    schema_reads = [q for q in queries.captured_queries if "patchops_finding" in q["sql"]]
    assert len(schema_reads) == 2


@pytest.mark.parametrize("path", ["/api/v1/findings/", "/api/v1/assets/", "/api/v1/exceptions/"])
def test_only_msp_wide_principals(two_clients, tenant_a, make_token, api, login, personas, path):
    assert login(personas.engineer).get(path).status_code == 200
    assert login(personas.owner_a).get(path).status_code == 403
    _, bound = make_token(TokenScope.READ, tenant_a)
    assert api(bound).get(path).status_code == 403
    _, agent = make_token(TokenScope.AGENT, tenant_a, name="agent")
    assert api(agent).get(path).status_code == 403

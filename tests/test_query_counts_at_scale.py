"""Constant work per request, at the sizes a client reaches.

* A client of 10 assets grown to 2,000 through the real ingest (one agent push of the whole
  fleet, findings opened by its matching): every main page and API list answers with exactly
  the same number of queries before and after, at or below its stored baseline
  (``tests/query_counts.json``, which ``tests/test_every_route.py`` keeps).
* The MSP grown from 2 clients to 8: the cross-client dashboard reads the scorecard rollups
  (one query whatever the number of clients), and a client's page costs the same (tenant
  lookup, the permission check of an account manager who looks after every client).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope
from tests.mfa import sign_in
from tests.producers import Device, all_day_window, push, roll_out
from tests.route_rules import BASELINE, UPDATE_BASELINE

SMALL, BIG = 10, 2_000
# The counts of this scenario, per principal and route (``UPDATE_QUERY_COUNTS=1`` rewrites it).
AT_SCALE = Path(__file__).with_name("query_counts_at_scale.json")
KB_CRITICAL, KB_HIGH = "KB5990001", "KB5990002"
CVE = "CVE-2031-49001"

# (baseline key, URL under the client; {asset} {finding} {rollout} {exception} filled in)
PAGES = [
    ("clients/<slug>/", "/clients/{slug}/"),
    ("clients/<slug>/findings/", "/clients/{slug}/findings/"),
    ("clients/<slug>/findings/<uuid>/", "/clients/{slug}/findings/{finding}/"),
    ("clients/<slug>/assets/", "/clients/{slug}/assets/"),
    ("clients/<slug>/assets/<uuid>/", "/clients/{slug}/assets/{asset}/"),
    ("clients/<slug>/rollouts/", "/clients/{slug}/rollouts/"),
    ("clients/<slug>/rollouts/<pk>/", "/clients/{slug}/rollouts/{rollout}/"),
    ("clients/<slug>/exceptions/", "/clients/{slug}/exceptions/"),
    ("clients/<slug>/exceptions/<uuid>/", "/clients/{slug}/exceptions/{exception}/"),
    ("clients/<slug>/reports/", "/clients/{slug}/reports/"),
]
API = [
    ("clients/<slug>/api/v1/findings/", "/clients/{slug}/api/v1/findings/"),
    ("clients/<slug>/api/v1/findings/<id>/", "/clients/{slug}/api/v1/findings/{finding}/"),
    ("clients/<slug>/api/v1/assets/", "/clients/{slug}/api/v1/assets/"),
    ("clients/<slug>/api/v1/assets/<uuid>/", "/clients/{slug}/api/v1/assets/{asset}/"),
    ("clients/<slug>/api/v1/rollouts/", "/clients/{slug}/api/v1/rollouts/"),
    ("clients/<slug>/api/v1/exceptions/", "/clients/{slug}/api/v1/exceptions/"),
    ("clients/<slug>/api/v1/reports/", "/clients/{slug}/api/v1/reports/"),
]
# The client owner's portal: the client home and its exceptions awaiting a signature.
PORTAL = [
    ("clients/<slug>/", "/clients/{slug}/"),
    ("clients/<slug>/portal/exceptions/", "/clients/{slug}/portal/exceptions/"),
]


def _fleet(first: int, count: int) -> list[Device]:
    """Windows PCs missing one critical and one high KB (every other one holds ePHI)."""
    devices = []
    for i in range(first, first + count):
        device = Device(f"PC-{i:05d}", ephi=i % 2 == 0)
        device.missing_kb(KB_CRITICAL, cves=[CVE], severity="critical")
        device.missing_kb(KB_HIGH, severity="high")
        devices.append(device)
    return devices


def _measure(http: HttpClient, url: str) -> tuple[int, list[str]]:
    """The queries of one GET, in its steady state: a first call takes what a principal's
    first request of the minute writes (a token's ``last_used_at``) out of the count."""
    http.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    connection.set_schema_to_public()
    return response.status_code, [q["sql"] for q in captured.captured_queries]


def _shape(queries: list[str]) -> Counter:
    return Counter(re.sub(r"'[^']*'|\b\d+\b", "?", q)[:300] for q in queries)


def _differences(small: list[str], big: list[str]) -> str:
    more, fewer = _shape(big) - _shape(small), _shape(small) - _shape(big)
    lines = [f"  +{n} × {sql}" for sql, n in more.most_common(5)]
    return "\n".join(lines + [f"  -{n} × {sql}" for sql, n in fewer.most_common(5)])


@pytest.fixture
def media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def clinic(tenant_a, personas, media, make_token) -> Iterator[dict]:
    """Tenant A with a fleet of ``SMALL`` PCs, a rollout, an exception awaiting the owner's
    signature, a report and a scorecard row: every list below has rows."""
    from findings.models import Finding
    from rings.models import Rollout
    from scorecards.services import record_scorecard
    from tests.exceptions_register.factories import make_exception

    engineer = HttpClient()
    sign_in(engineer, personas.engineer)
    admin = HttpClient()
    sign_in(admin, personas.msp_admin)
    owner = HttpClient()
    sign_in(owner, personas.owner_a)
    reader = HttpClient()
    reader.defaults["HTTP_AUTHORIZATION"] = (
        f"Bearer {make_token(TokenScope.READ, client=tenant_a)[1]}"
    )
    all_day_window(admin)
    with tenant_context(tenant_a):
        summary = push(_fleet(0, SMALL))
        assert summary.assets_created == SMALL
        critical = list(Finding.objects.filter(patch_identifier=KB_CRITICAL).order_by("pk"))
        assert len(critical) == SMALL  # the ingest's matching opened one per PC
        roll_out(critical[:3], engineer=personas.engineer, fail={"PC-00001"})
        exception = make_exception(
            client=tenant_a,
            approver=personas.owner_a,
            actor=personas.engineer,
            assets=[critical[5].asset],
            findings=[critical[5]],
        )
        ids = {
            "slug": tenant_a.slug,
            "asset": critical[0].asset.uuid,
            "finding": critical[0].uuid,
            "rollout": Rollout.objects.get().uuid,
            "exception": exception.uuid,
        }
    period = timezone.localdate(timezone=tenant_a.tz).strftime("%Y-%m")
    call_command(
        "generate_report", tenant_a.slug, kind="inventory", period=period, stdout=StringIO()
    )
    record_scorecard(client=tenant_a, at=timezone.now())
    connection.set_schema_to_public()
    yield {"ids": ids, "engineer": engineer, "admin": admin, "owner": owner, "reader": reader}


def _counts(clinic: dict) -> dict[tuple[str, str], tuple[int, list[str]]]:
    ids = clinic["ids"]
    measured = {}
    for who, routes in (("admin", PAGES), ("reader", API), ("owner", PORTAL)):
        for key, url in routes:
            measured[(who, key)] = _measure(clinic[who], url.format(**ids))
    measured[("engineer", "/")] = _measure(clinic["engineer"], "/")
    return measured


def test_query_counts_stay_the_same_from_10_to_2000_assets(clinic, tenant_a):
    from findings.models import Finding
    from inventory.models import Asset
    from scorecards.services import record_scorecard

    small = _counts(clinic)
    # The fleet grows to BIG: the agents of the new PCs push (one run, as a site roll-out is
    # imported), the ingest's matching opens their findings, the nightly rollup follows.
    with tenant_context(tenant_a):
        summary = push(_fleet(SMALL, BIG - SMALL))
        assert summary.assets_created == BIG - SMALL
        assert summary.findings_opened == 2 * (BIG - SMALL)
        assert Asset.objects.count() == BIG
        assert Finding.objects.filter(patch_identifier=KB_CRITICAL).count() == BIG
    record_scorecard(client=tenant_a, at=timezone.now())
    connection.set_schema_to_public()
    big = _counts(clinic)

    every_route = json.loads(BASELINE.read_text())
    stored = json.loads(AT_SCALE.read_text()) if AT_SCALE.exists() else {}
    grew, moved = [], []
    for (who, key), (status, queries) in small.items():
        big_status, big_queries = big[(who, key)]
        assert status == big_status == 200, (who, key, status, big_status)
        if len(big_queries) != len(queries):
            grew.append(
                f"{key} ({who}): {len(queries)} queries at {SMALL} assets, "
                f"{len(big_queries)} at {BIG}:\n{_differences(queries, big_queries)}"
            )
        if who in ("admin", "engineer"):
            # The every-route baseline is measured with the MSP admin's session too.
            assert len(big_queries) <= every_route[key], (who, key, len(big_queries))
        if stored.get(f"{who} {key}") != len(queries):
            moved.append(f"{who} {key}: {len(queries)}, stored {stored.get(f'{who} {key}')}")
    assert not grew, "\n".join(grew)
    if UPDATE_BASELINE:
        counts = {f"{who} {key}": len(queries) for (who, key), (_, queries) in small.items()}
        AT_SCALE.write_text(json.dumps(dict(sorted(counts.items())), indent=2) + "\n")
        return
    assert not moved, f"{AT_SCALE.name} differs (UPDATE_QUERY_COUNTS=1 rewrites it): {moved}"


def test_query_counts_stay_the_same_from_2_to_8_clients(tenant_a, tenant_b, personas):
    """The cross-client dashboard and a client's pages cost the same with four times the clients
    (an account manager looking after all of them, so their permission map grows too)."""
    from scorecards.services import record_scorecard
    from scorecards.weekly import write_due_weekly_rollups
    from tenants.models import Client
    from tenants.permissions import visible_clients
    from tenants.services import create_client

    clients = [tenant_a, tenant_b]
    tenant_b.account_managers.add(personas.account_manager)
    for client in clients:
        record_scorecard(client=client, at=timezone.now())
        write_due_weekly_rollups(client)
    engineer, manager = HttpClient(), HttpClient()
    sign_in(engineer, personas.engineer)
    sign_in(manager, personas.account_manager)
    urls = [
        (engineer, "/"),
        (manager, "/"),
        (engineer, "/api/v1/clients/"),
        (engineer, "/api/v1/scorecards/"),
        # The weekly review reads the weekly rollups, never every schema.
        (engineer, "/weekly-review/"),
        (manager, "/clients/tenant-a/"),
        (manager, "/clients/tenant-a/findings/"),
        (engineer, "/clients/tenant-b/assets/"),
        (engineer, "/clients/tenant-b/api/v1/findings/"),
    ]
    before = [_measure(http, url) for http, url in urls]

    for n in range(6):
        client = create_client(slug=f"grow-{n}", name=f"Grown Clinic {n}")
        client.account_managers.add(personas.account_manager)
        record_scorecard(client=client, at=timezone.now())
        write_due_weekly_rollups(client)
        clients.append(client)
    connection.set_schema_to_public()
    assert Client.objects.exclude(schema_name="public").count() == 8
    assert visible_clients(personas.account_manager).count() == 8
    after = [_measure(http, url) for http, url in urls]

    for (_, url), (status, queries), (after_status, after_queries) in zip(
        urls, before, after, strict=True
    ):
        assert status == after_status == 200, (url, status, after_status)
        assert len(after_queries) == len(queries), (
            f"{url}: {len(queries)} queries with 2 clients, {len(after_queries)} with 8:\n"
            + _differences(queries, after_queries)
        )
    # The dashboard lists every client (the rollup rows), not only the first ones.
    response = engineer.get("/")
    for client in clients:
        assert client.name.encode() in response.content
    # So does the weekly review, each from its rollup.
    review = engineer.get("/weekly-review/")
    for client in clients:
        assert f'data-testid="weekly-row-{client.slug}"'.encode() in review.content
    assert b'data-testid="weekly-missing"' not in review.content


def test_no_url_resolver_is_built_per_request(tenant_a, tenant_b, personas):
    """Each client's URLconf is made once and its resolver kept: requests after the first to a
    client (or to the public pages) build no resolver, whichever client came in between."""
    from django.urls.resolvers import _get_cached_resolver

    from tenants.middleware import client_urlconf

    engineer = HttpClient()
    sign_in(engineer, personas.engineer)
    urls = ["/", "/clients/tenant-a/findings/", "/clients/tenant-b/assets/", "/clients/tenant-a/"]
    for url in urls:
        assert engineer.get(url).status_code == 200, url
    built = _get_cached_resolver.cache_info().misses
    for url in urls * 3:
        assert engineer.get(url).status_code == 200, url
    assert _get_cached_resolver.cache_info().misses == built
    tenant_a.domain_subfolder = tenant_a.slug
    assert client_urlconf(tenant_a) is client_urlconf(tenant_a)

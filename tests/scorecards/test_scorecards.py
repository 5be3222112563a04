"""Daily scorecard rows, the cross-client page and /api/v1/scorecards/."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from scorecards.models import ScorecardRow
from scorecards.selectors import clients_by_risk, risk_index
from scorecards.services import record_scorecard
from scorecards.tasks import dispatch_scorecards, record_scorecard_task
from tenants.choices import TokenScope
from tests.producers import Device, push


@pytest.mark.django_db
def test_record_scorecard_writes_one_row_per_client_day(tenant_a):
    """An ePHI workstation reports a critical update three days ago (48 h window: overdue now)
    and a second workstation reports nothing missing."""
    now = timezone.now()
    with tenant_context(tenant_a):
        with time_machine.travel(now - timedelta(days=3), tick=False):
            push(Device("ws-ephi", ephi=True).missing_kb("KB5000001", severity="critical"))
        with time_machine.travel(now - timedelta(hours=1), tick=False):
            push(Device("ws-fine"))
    row = record_scorecard(client=tenant_a, at=now)
    again = record_scorecard(client=tenant_a, at=now)
    assert row.pk == again.pk
    assert ScorecardRow.objects.filter(client=tenant_a).count() == 1
    again.refresh_from_db()
    assert (again.assets_in_scope, again.compliant_assets) == (2, 1)
    assert again.compliance_pct == Decimal("50.00")
    assert again.open_critical == 1 and again.ephi_assets == 1 and again.is_regulated
    assert again.by_tier["critical"]["pct"] == 50.0
    assert again.by_os_family["windows"]["in_scope"] == 2
    assert again.by_os_family["windows"]["not_reporting"] == 0


@pytest.mark.django_db
def test_task_and_dispatcher(tenant_a, tenant_b, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from patchops.celery import app

    app.conf.task_always_eager = True
    try:
        assert record_scorecard_task(tenant_a.pk)["client"] == "tenant-a"
        assert dispatch_scorecards()["dispatched"] >= 2
    finally:
        app.conf.task_always_eager = False
    assert ScorecardRow.objects.filter(client__in=[tenant_a, tenant_b]).count() == 2


def _row(client, day, **kw):
    defaults = {"computed_at": timezone.now(), "assets_in_scope": 10, "compliant_assets": 9,
                "compliance_pct": Decimal("90.00")}  # fmt: skip
    return ScorecardRow.objects.create(client=client, date=day, **(defaults | kw))


def test_risk_index_formula():
    row = ScorecardRow(
        assets_in_scope=10, ephi_assets=4, do_not_disrupt_assets=2, open_critical=20,
        is_regulated=True,
    )  # fmt: skip
    # 25 + 25 × 0.4 + 20 × 0.2 + 30 × min(1, 2.0) = 25 + 10 + 4 + 30 = 69
    assert risk_index(row) == Decimal("69.00")


@pytest.mark.django_db
def test_ranking_marks_top_20_percent_and_respects_visibility(tenant_a, tenant_b, personas):
    today = date(2026, 5, 20)
    for i in range(35):
        _row(tenant_a, today - timedelta(days=i), is_regulated=True, ephi_assets=5)
    _row(tenant_b, today, open_critical=1)
    scores = clients_by_risk(personas.msp_admin, today=today)
    assert [s.client.slug for s in scores[:2]] == ["tenant-a", "tenant-b"]
    assert scores[0].is_top_risk and not scores[1].is_top_risk  # ceil(0.2 × 2) = 1
    assert len(scores[0].trend) == 30 and scores[0].trend[-1].date == today
    owner = clients_by_risk(personas.owner_b, today=today)
    assert [s.client.slug for s in owner] == ["tenant-b"]


@pytest.mark.django_db
def test_scorecards_api_and_page(http, login, api, make_token, personas, tenant_a, tenant_b):
    _row(tenant_a, date(2026, 5, 19))
    _row(tenant_a, date(2026, 5, 20))
    _row(tenant_b, date(2026, 5, 20))
    assert http.get("/api/v1/scorecards/").status_code == 401
    body = login(personas.owner_b).get("/api/v1/scorecards/").json()
    assert {r["client"]["slug"] for r in body["results"]} == {"tenant-b"}
    admin = login(personas.msp_admin)
    body = admin.get("/api/v1/scorecards/?client=tenant-a").json()
    assert body["count"] == 2
    ranking = admin.get("/api/v1/scorecards/by-risk/").json()
    assert {r["row"]["client"]["slug"] for r in ranking} == {"tenant-a", "tenant-b"}
    _, agent = make_token(TokenScope.AGENT, tenant_a)
    assert api(agent).get("/api/v1/scorecards/").status_code == 403
    http.defaults.pop("HTTP_AUTHORIZATION", None)
    page = login(personas.msp_admin).get("/scorecards/")
    assert page.status_code == 200 and b'data-testid="top-risk"' in page.content


@pytest.mark.django_db
def test_scorecard_page_reads_only_rollup_rows(login, personas, tenant_a, tenant_b,
                                               django_assert_max_num_queries):  # fmt: skip
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(personas.msp_admin)
    _row(tenant_a, date(2026, 5, 20))
    with CaptureQueriesContext(connection) as one_client:
        client.get("/scorecards/")
    _row(tenant_b, date(2026, 5, 20))
    _row(tenant_b, date(2026, 5, 19))
    with django_assert_max_num_queries(len(one_client.captured_queries)) as captured:
        assert client.get("/scorecards/").status_code == 200
    assert not any(
        "tenant_a" in q["sql"] or "tenant_b" in q["sql"] for q in captured.captured_queries
    )


@pytest.mark.django_db
def test_rank_and_mark_are_taken_among_the_clients_the_viewer_sees(
    login, personas, tenant_a, tenant_b
):
    """Tenant B is the riskier one; its owner (who sees only B) is not told where B stands
    among the MSP's clients, and tenant A's owner is not told that A trails another client."""
    today = date(2026, 5, 20)
    _row(tenant_a, today)  # risk 0
    _row(tenant_b, today, is_regulated=True, ephi_assets=10, open_critical=10)  # risk 80
    admin = login(personas.msp_admin).get("/api/v1/scorecards/by-risk/").json()
    ours = {r["row"]["client"]["slug"]: r for r in admin}
    assert ours["tenant-b"]["rank"] < ours["tenant-a"]["rank"]
    assert ours["tenant-b"]["is_top_risk"] and not ours["tenant-a"]["is_top_risk"]
    for owner, slug in ((personas.owner_a, "tenant-a"), (personas.owner_b, "tenant-b")):
        http = login(owner)
        [only] = http.get("/api/v1/scorecards/by-risk/").json()
        assert only["row"]["client"]["slug"] == slug
        assert only["rank"] == 1 and only["is_top_risk"] is False
        page = http.get("/scorecards/").content.decode()
        assert 'data-testid="top-risk"' not in page
        assert f'<tr data-testid="scorecard-{slug}">\n      <td class="num">1</td>' in page
    # The account manager of tenant A alone: A is ranked first among what they see.
    [managed] = clients_by_risk(personas.account_manager, today=today)
    assert (managed.client.slug, managed.rank, managed.is_top_risk) == ("tenant-a", 1, False)

from datetime import date
from unittest import mock

import pytest
from django_tenants.utils import tenant_context

from reports.models import ReportRequest
from reports.services import store_report
from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _monthly_and_qbr_not_built(monkeypatch):
    """These tests exercise the "not available yet" path, whatever builders are installed."""
    from reports.services import REPORT_BUILDERS

    monkeypatch.delitem(REPORT_BUILDERS, "monthly", raising=False)
    monkeypatch.delitem(REPORT_BUILDERS, "qbr", raising=False)


API = "/clients/tenant-a/api/v1/reports/"
PAGES = "/clients/tenant-a/reports/"


@pytest.fixture
def reports(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        inv = store_report(
            client=tenant_a, kind="inventory", period=date(2026, 10, 1), content=b"%PDF a-oct"
        )
        old = store_report(
            client=tenant_a, kind="inventory", period=date(2026, 9, 1), content=b"%PDF a-sep"
        )
    with tenant_context(tenant_b):
        other = store_report(
            client=tenant_b, kind="inventory", period=date(2026, 10, 1), content=b"%PDF b"
        )
    return {"inv": inv, "old": old, "other": other}


def test_anonymous_is_401(http, reports):
    assert http.get(API).status_code == 401


@pytest.mark.parametrize(
    "persona", ["account_manager", "engineer", "msp_admin", "owner_a", "viewer_a"]
)
def test_reports_readers_list_and_download(login, personas, reports, persona):
    client = login(getattr(personas, persona))
    listing = client.get(API)
    assert listing.status_code == 200 and listing.json()["count"] == 2
    row = listing.json()["results"][0]
    assert (
        row["id"] == str(reports["inv"].uuid) and row["period"] == "2026-10" and row["version"] == 1
    )
    assert row["download_url"] == f"{API}{reports['inv'].uuid}/download/"
    response = client.get(row["download_url"])
    assert response.status_code == 200
    assert response["X-Content-SHA256"] == reports["inv"].sha256
    assert b"".join(response.streaming_content) == b"%PDF a-oct"
    assert "attachment" in response["Content-Disposition"]
    page = client.get(f"{PAGES}{reports['inv'].uuid}/download/")
    assert page.status_code == 200 and page["X-Content-SHA256"] == reports["inv"].sha256


def test_owner_of_b_cannot_see_or_download_a_reports(login, personas, reports):
    client = login(personas.owner_b)
    assert client.get(API).status_code == 404
    assert client.get(f"{API}{reports['inv'].uuid}/download/").status_code == 404
    assert client.get(f"{PAGES}{reports['inv'].uuid}/download/").status_code == 404
    assert client.get(PAGES).status_code == 404


def test_a_report_of_another_client_is_404_inside_ones_own(login, personas, reports):
    client = login(personas.owner_a)
    assert client.get(f"{API}{reports['other'].uuid}/").status_code == 404
    assert client.get(f"{API}{reports['other'].uuid}/download/").status_code == 404
    assert client.get(f"{PAGES}{reports['other'].uuid}/download/").status_code == 404


def test_agent_token_is_403(api, make_token, tenant_a, reports):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    assert api(plaintext).get(API).status_code == 403


def test_filters_kind_and_period(login, personas, reports):
    client = login(personas.engineer)
    assert client.get(API, {"period": "2026-09"}).json()["count"] == 1
    assert client.get(API, {"period": "garbage"}).json()["count"] == 0
    assert client.get(API, {"kind": "inventory"}).json()["count"] == 2
    assert client.get(API, {"kind": "weekly"}).status_code == 400


@pytest.mark.parametrize("persona", ["owner_a", "viewer_a"])
def test_client_users_may_not_generate(login, personas, reports, persona):
    client = login(getattr(personas, persona))
    with mock.patch("reports.tasks.generate_report_task.apply_async", autospec=True) as queue:
        assert client.post(API, {"kind": "inventory", "period": "2026-10"}).status_code == 403
        assert client.post(PAGES, {"kind": "inventory", "period": "2026-10"}).status_code == 403
    queue.assert_not_called()


@pytest.mark.parametrize("persona", ["account_manager", "engineer"])
def test_staff_queue_a_generation_never_rendering_in_the_request(
    login, personas, reports, persona, tenant_a
):
    client = login(getattr(personas, persona))
    with (
        mock.patch("reports.tasks.generate_report_task.apply_async", autospec=True) as queue,
        mock.patch("reports.services.render_pdf", autospec=True) as render,
    ):
        response = client.post(
            API, {"kind": "inventory", "period": "2026-10"}, content_type="application/json"
        )
        assert response.status_code == 202 and response.json()["status"] == "queued"
        page = client.post(PAGES, {"kind": "inventory", "period": "2026-08"})
        assert page.status_code == 302
    render.assert_not_called()
    assert queue.call_count == 2
    kwargs = queue.call_args_list[0].kwargs["kwargs"]
    assert kwargs == {"request": response.json()["id"]}
    with tenant_context(tenant_a):
        made = ReportRequest.objects.get(uuid=response.json()["id"])
    assert (made.kind, made.period_label, made.state) == ("inventory", "2026-10", "queued")
    assert made.requested_by == getattr(personas, persona).email


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"kind": "monthly", "period": "2026-10"}, "kind", "not available yet"),
        ({"kind": "weekly", "period": "2026-10"}, "kind", "not a valid choice"),
        ({"kind": "inventory", "period": "2026-13"}, "period", "not a valid month"),
        ({"kind": "inventory"}, "period", "required"),
        ({"kind": "inventory", "period": "2999-01"}, "period", "has not started yet"),
    ],
)
def test_bad_generation_requests_are_400_json(login, personas, body, field, text):
    client = login(personas.engineer)
    with mock.patch("reports.tasks.generate_report_task.apply_async", autospec=True) as queue:
        response = client.post(API, body, content_type="application/json")
    assert response.status_code == 400
    assert text in " ".join(response.json()[field])
    queue.assert_not_called()


def test_write_token_may_generate_read_token_may_not(api, make_token, tenant_a):
    _, read = make_token(TokenScope.READ, tenant_a, name="r")
    _, write = make_token(TokenScope.WRITE, tenant_a, name="w")
    with mock.patch("reports.tasks.generate_report_task.apply_async", autospec=True) as queue:
        assert api(read).post(API, {"kind": "inventory", "period": "2026-10"}).status_code == 403
        assert api(write).post(API, {"kind": "inventory", "period": "2026-10"}).status_code == 202
    request_id = queue.call_args.kwargs["kwargs"]["request"]
    with tenant_context(tenant_a):
        assert ReportRequest.objects.get(uuid=request_id).requested_by == "token:w"


def test_reports_page_lists_and_offers_generation_to_staff_only(login, personas, reports):
    page = login(personas.account_manager).get(PAGES)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="generate-form"' in html and reports["inv"].sha256[:16] in html
    owner_html = login(personas.owner_a).get(PAGES).content.decode()
    assert "generate-form" not in owner_html and reports["old"].sha256[:16] in owner_html


def test_empty_reports_page(login, personas):
    assert "No reports yet." in login(personas.viewer_a).get(PAGES).content.decode()


def test_listing_does_not_grow_queries_with_rows(
    login, personas, reports, django_assert_max_num_queries
):
    client = login(personas.account_manager)
    # A fixed number, whatever the rows: their e-mail deliveries come in one prefetch.
    with django_assert_max_num_queries(14):
        assert client.get(API).status_code == 200

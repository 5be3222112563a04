"""Every requested report has a visible state — queued, running, failed with its reason, ready —
and a retry; a request yields one stored report however often its task is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from reports import requests
from reports.models import ReportRequest, StoredReport
from reports.tasks import generate_report_task
from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db
API = "/clients/tenant-a/api/v1/"
PAGE = "/clients/tenant-a/reports/"


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    """What the views queue (the broker is not under test here): the task's kwargs."""
    sent: list[dict] = []
    monkeypatch.setattr(
        generate_report_task, "apply_async", lambda kwargs=None, **_: sent.append(kwargs)
    )
    return sent


def _deliver(tenant, kwargs: dict):
    """The worker runs the queued task (the real task, in the client's schema)."""
    with tenant_context(tenant):
        return generate_report_task.apply(kwargs=kwargs)


def _ask(http, period: str = "2026-10"):
    body = {"kind": "inventory", "period": period}
    return http.post(API + "reports/", body, content_type="application/json")


def test_a_request_goes_from_queued_to_ready_through_the_api(api, make_token, tenant_a, queued):
    _, token = make_token(TokenScope.WRITE, tenant_a)
    http = api(token)
    answer = http.post(
        API + "reports/",
        {"kind": "inventory", "period": "2026-10"},
        content_type="application/json",
    )
    assert answer.status_code == 202
    body = answer.json()
    assert (body["state"], body["kind"], body["period"], body["report"]) == (
        "queued",
        "inventory",
        "2026-10",
        None,
    )
    assert queued == [{"request": body["id"]}]

    _deliver(tenant_a, queued[0])
    done = http.get(API + f"report-requests/{body['id']}/").json()
    assert (done["state"], done["attempts"], done["error"]) == ("ready", 1, "")
    download = http.get(API + f"reports/{done['report']}/download/")
    assert download.status_code == 200

    _deliver(tenant_a, queued[0])  # delivered again (the ack was lost): nothing more is stored
    with tenant_context(tenant_a):
        assert StoredReport.objects.count() == 1
        assert ReportRequest.objects.get(uuid=body["id"]).attempts == 1


def test_a_failed_request_shows_its_reason_and_can_be_retried(
    login, personas, tenant_a, queued, monkeypatch
):
    http = login(personas.engineer)
    http.post(PAGE, {"kind": "inventory", "period": "2026-10"})
    [kwargs] = queued

    def broken(*args, **kwargs):
        raise ValueError("no fonts configured")

    monkeypatch.setattr("reports.services.render_pdf", broken)
    assert _deliver(tenant_a, kwargs).failed()
    page = http.get(PAGE).content.decode()
    assert 'data-state="failed"' in page and "ValueError: no fonts configured" in page
    assert "Retry" in page

    monkeypatch.undo()
    monkeypatch.setattr(
        generate_report_task, "apply_async", lambda kwargs=None, **_: queued.append(kwargs)
    )
    with tenant_context(tenant_a):
        made = ReportRequest.objects.get()
    retried = http.post(f"{PAGE}requests/{made.uuid}/retry/", follow=True)
    assert "queued again" in retried.content.decode()
    assert queued[-1] == {"request": str(made.uuid)}
    _deliver(tenant_a, queued[-1])
    with tenant_context(tenant_a):
        made.refresh_from_db()
    assert (made.state, made.attempts, made.error) == ("ready", 2, "")
    assert 'data-state="ready"' in http.get(PAGE).content.decode()


def test_only_a_failed_request_is_retried(api, make_token, tenant_a, queued):
    _, token = make_token(TokenScope.WRITE, tenant_a)
    http = api(token)
    made = http.post(
        API + "reports/",
        {"kind": "inventory", "period": "2026-10"},
        content_type="application/json",
    ).json()
    again = http.post(API + f"report-requests/{made['id']}/retry/")
    assert again.status_code == 409 and "Only a failed request" in again.json()["detail"]
    assert len(queued) == 1


def test_a_request_that_stops_without_a_word_is_failed_by_the_sweep(tenant_a, queued):
    start = datetime(2026, 11, 10, 9, tzinfo=UTC)
    with tenant_context(tenant_a):
        with time_machine.travel(start, tick=False):
            made = requests.request_report(
                client=tenant_a,
                kind="inventory",
                period=datetime(2026, 10, 1).date(),
                actor="engineer@msp.test",
                queue=lambda r: queued.append({"request": str(r.uuid)}),
            )
        with time_machine.travel(start + timedelta(minutes=29), tick=False):
            assert requests.fail_stale_requests() == 0
        with time_machine.travel(start + timedelta(minutes=31), tick=False):
            assert requests.fail_stale_requests() == 1
        made.refresh_from_db()
    assert made.state == "failed" and "did not finish within 30 minutes" in made.error


def test_client_people_see_requests_but_cannot_retry(login, personas, tenant_a, queued):
    login(personas.engineer).post(PAGE, {"kind": "inventory", "period": "2026-10"})
    with tenant_context(tenant_a):
        made = ReportRequest.objects.get()
        requests.fail_request(uuid=str(made.uuid), reason="stopped")
    owner = login(personas.owner_a)
    page = owner.get(PAGE).content.decode()
    assert 'data-state="failed"' in page and "Retry" not in page
    assert owner.post(f"{PAGE}requests/{made.uuid}/retry/").status_code == 403

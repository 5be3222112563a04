"""Exposure alerts and triage (Compliance + Exposure plan): an alert, posted through a feed's
signed webhook or the API, opens a PSA ticket (a local ConnectWise server), forces a password
reset (the RMM connector, else a manual task) and tells the client owner, each once and timed
against the plan's response time; the same exposure reported again is merged; the monthly
report has an exposure section from those alerts."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from exposure.models import ExposureAlert, ExposureStep
from integrations.models import PsaTicket, RmmWebhook
from notifications.models import Notification
from reports.services import render_report
from tenants.choices import TokenScope
from tenants.services import set_plan
from tenants.tiers import Plan
from tests.evidence.pdftext import pdf_pages
from tests.integrations import psa_servers as ps
from tests.integrations.outbox_helpers import deliver_outbox
from tests.integrations.rmm_server import rmm_server
from tests.integrations.test_psa_connectors import connect
from webhooks.verify import compute_signature

pytestmark = pytest.mark.django_db
API = "/clients/tenant-a/api/v1/"
# Tuesday 10 November 2026, 09:00 in Chicago.
MORNING = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
SECRET = "feed-signing-secret-0123456789"
ALERT = {
    "email": "Jane.Doe@alpha-clinic.example",
    "source": "Have I Been Pwned",
    "exposed": "password",
    "breach": "MedPortal 2026",
    "exposed_at": "2026-11-02T00:00:00+00:00",
}


def _signed(http, feed_id: str, body: dict, *, delivery: str | None = None, secret=SECRET):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    return http.post(
        f"{API}exposure-feeds/{feed_id}/inbound/",
        raw,
        content_type="application/json",
        HTTP_X_PATCHOPS_TIMESTAMP=stamp,
        HTTP_X_PATCHOPS_SIGNATURE=f"v1={compute_signature(secret, stamp, raw)}",
        HTTP_X_PATCHOPS_DELIVERY=delivery or str(uuid.uuid4()),
    )


@pytest.fixture
def premium(tenant_a):
    set_plan(client=tenant_a, plan=Plan.COMPLIANCE_EXPOSURE)
    return tenant_a


@pytest.fixture
def feed(premium, login, personas) -> str:
    made = login(personas.msp_admin).post(
        API + "exposure-feeds/",
        {"name": "HIBP domain watch", "secret": SECRET},
        content_type="application/json",
    )
    assert made.status_code == 201 and "secret" not in made.json()
    return made.json()["id"]


def test_an_alert_drives_ticket_reset_and_owner_notice_once_within_the_sla_with_a_duplicate_merged(
    premium, feed, http, login, personas, make_token, api
):
    with ps.psa_server("connectwise") as server:
        with tenant_context(premium):
            connect("connectwise", server, personas.msp_admin)
        with time_machine.travel(MORNING, tick=False):
            first = _signed(http, feed, ALERT)
        assert first.status_code == 201, first.content
        alert = first.json()
        assert alert["due_at"] == "2026-11-10T19:00:00Z"  # four hours on this plan
        assert alert["reset_via"] == "manual"  # no connector can reset passwords here

        # The same breach of the same address, reported again (other case, other channel).
        _, token = make_token(TokenScope.WRITE, premium)
        with time_machine.travel(MORNING + timedelta(minutes=20), tick=False):
            again = api(token).post(
                API + "exposure-alerts/",
                {**ALERT, "email": "jane.doe@ALPHA-clinic.example", "breach": " MedPortal  2026"},
                content_type="application/json",
            )
        assert again.status_code == 200 and again.json()["id"] == alert["id"]
        assert again.json()["duplicates"] == 1

        # The worker delivers the outbox: ConnectWise holds exactly one ticket for the alert.
        with time_machine.travel(MORNING + timedelta(minutes=3), tick=False):
            deliver_outbox(premium)
        [created] = server.own_tickets()
        assert created["summary"].startswith("Credential exposure: jane.doe@alpha-clinic.example")

    # An engineer forces the reset by hand, 45 minutes after the alert.
    engineer = login(personas.engineer)
    assert ">Exposure</a>" in engineer.get("/clients/tenant-a/").content.decode()
    page = f"/clients/tenant-a/exposure/{alert['id']}/"
    assert "No connector can reset passwords" in engineer.get(page).content.decode()
    with time_machine.travel(MORNING + timedelta(minutes=45), tick=False):
        done = engineer.post(page, {"step": "reset", "note": "Reset in Entra ID, sessions revoked"})
    assert done.status_code == 302
    again = engineer.post(page, {"step": "reset"})
    assert again.status_code == 400 and "already done" in again.content.decode()

    with tenant_context(premium):
        assert ExposureAlert.objects.count() == 1
        assert PsaTicket.objects.filter(related__exposure=alert["id"]).count() == 1
        steps = {s.step: s for s in ExposureStep.objects.select_related("alert")}
        assert set(steps) == {"ticket", "reset", "notify"}
        assert [steps[k].minutes for k in ("ticket", "reset", "notify")] == [3, 45, 0]
        assert all(s.within_sla for s in steps.values())
        assert steps["ticket"].reference == str(created["id"])
        assert "within the 4 h response time" in steps["reset"].detail
        assert steps["notify"].detail.startswith("Client owner told: owner@a.test")
        stored = ExposureAlert.objects.get()
        assert stored.sla_met is True and stored.response_minutes == 45
        kinds = list(
            EvidenceEvent.objects.filter(subject_id=alert["id"]).values_list("kind", flat=True)
        )
        assert sorted(kinds) == sorted(
            ["exposure.alert_received", "exposure.alert_merged"] + ["exposure.step_done"] * 3
        )
    told = Notification.objects.filter(kind="exposure_alert", client=premium)
    assert [n.user for n in told] == [personas.owner_a]
    assert "password of jane.doe@alpha-clinic.example was exposed" in told[0].title

    # The month's report: its exposure section is made of that alert.
    december = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    with time_machine.travel(december, tick=False), tenant_context(premium):
        text = " ".join(pdf_pages(render_report(premium, "monthly", date(2026, 11, 1))))
    assert "1 credential alert in the period (1 repeated report merged)" in text
    assert "1 answered within the 4 h response time, 0 not" in text
    assert "Median time to respond: 45 min" in text
    # Ticket · reset · owner told, time to respond, SLA (the address wraps in its cell).
    assert "jane.doe@alpha- clinic.example password MedPortal 2026 Have I Been Pwned" in text
    assert "3 min · 45 min · 0 min 45 min met" in text


def test_the_rmm_connector_forces_the_reset_and_a_late_step_is_overdue(premium, make_token, api):
    _, token = make_token(TokenScope.WRITE, premium)
    with rmm_server() as rmm:
        with tenant_context(premium):
            RmmWebhook.objects.create(name="Ninja", url=rmm.url, secret="rmm-key", max_attempts=2)
        with time_machine.travel(MORNING, tick=False):
            made = api(token).post(API + "exposure-alerts/", ALERT, content_type="application/json")
        assert made.status_code == 201 and made.json()["reset_via"] == "connector"
        with time_machine.travel(MORNING + timedelta(minutes=2), tick=False):
            deliver_outbox(premium)
        [call] = rmm.calls
        assert call.json["event"] == "account.password_reset"
        assert call.json["email"] == "jane.doe@alpha-clinic.example"
    with tenant_context(premium):
        from exposure.services import watch_overdue

        reset = ExposureStep.objects.select_related("alert").get(step="reset")
        assert reset.state == "done" and reset.minutes == 2 and reset.within_sla
        # No client owner would be a waiting step; here everything is done: nothing overdue.
        assert watch_overdue(at=MORNING + timedelta(hours=5)) == 0


def test_a_step_not_done_in_time_is_overdue_once(premium, make_token, api):
    _, token = make_token(TokenScope.WRITE, premium)
    with time_machine.travel(MORNING, tick=False):
        made = api(token).post(API + "exposure-alerts/", ALERT, content_type="application/json")
    with tenant_context(premium):
        from exposure.services import watch_overdue

        assert watch_overdue(at=MORNING + timedelta(hours=3)) == 0
        assert watch_overdue(at=MORNING + timedelta(hours=5)) == 1  # the manual reset
        assert watch_overdue(at=MORNING + timedelta(hours=6)) == 0
        [late] = EvidenceEvent.objects.filter(kind="exposure.step_overdue")
        assert late.payload["step"] == "reset" and late.subject_id == made.json()["id"]
        assert ExposureAlert.objects.get().sla_met is False


def test_signed_webhook_refusals_change_nothing(premium, feed, http):
    assert (
        http.post(
            f"{API}exposure-feeds/{feed}/inbound/", b"{}", content_type="application/json"
        ).status_code
        == 401
    )
    assert _signed(http, feed, ALERT, secret="not-the-feed-secret-000000").status_code == 403
    bad = _signed(http, feed, {**ALERT, "email": "nobody", "exposed": ""})
    assert bad.status_code == 400 and set(bad.json()) == {"email", "exposed"}
    first = _signed(http, feed, ALERT, delivery="d-1")
    assert first.status_code == 201
    assert _signed(http, feed, ALERT, delivery="d-1").status_code == 409
    with override_settings(WEBHOOK_TOLERANCE_SECONDS=300):
        with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=False):
            raw = json.dumps(ALERT).encode()
            stamp = str(int(time.time()))
        old = http.post(
            f"{API}exposure-feeds/{feed}/inbound/",
            raw,
            content_type="application/json",
            HTTP_X_PATCHOPS_TIMESTAMP=stamp,
            HTTP_X_PATCHOPS_SIGNATURE=f"v1={compute_signature(SECRET, stamp, raw)}",
            HTTP_X_PATCHOPS_DELIVERY="d-2",
        )
    assert old.status_code == 403
    with tenant_context(premium):
        assert ExposureAlert.objects.count() == 1 and ExposureAlert.objects.get().duplicates == 0


def test_a_plan_without_exposure_monitoring_refuses_alerts(
    tenant_a, make_token, api, login, personas
):
    _, token = make_token(TokenScope.WRITE, tenant_a)
    refused = api(token).post(API + "exposure-alerts/", ALERT, content_type="application/json")
    assert refused.status_code == 403
    assert "not part of Alpha Clinic's Compliance plan" in refused.json()["detail"]
    page = login(personas.viewer_a).get("/clients/tenant-a/exposure/").content.decode()
    assert 'data-testid="not-in-plan"' in page
    overview = login(personas.viewer_a).get("/clients/tenant-a/").content.decode()
    assert ">Exposure</a>" not in overview and "Compliance plan" in overview
    with tenant_context(tenant_a):
        assert not ExposureAlert.objects.exists()
        assert not PsaTicket.objects.exists()


def test_permissions_and_bad_input(premium, make_token, api, login, personas):
    _, read = make_token(TokenScope.READ, premium)
    assert (
        api(read).post(API + "exposure-alerts/", ALERT, content_type="application/json").status_code
        == 403
    )
    _, write = make_token(TokenScope.WRITE, premium)
    bad = api(write).post(
        API + "exposure-alerts/",
        {**ALERT, "exposed_at": "yesterday"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "exposed_at" in bad.json()
    made = api(write).post(API + "exposure-alerts/", ALERT, content_type="application/json").json()
    page = f"/clients/tenant-a/exposure/{made['id']}/"
    assert login(personas.viewer_a).post(page, {"step": "reset"}).status_code == 403
    assert login(personas.owner_b).get(page).status_code == 404
    wrong = login(personas.engineer).post(page, {"step": "ticket"})
    assert wrong.status_code == 400
    assert login(personas.engineer).get(API + "exposure-feeds/").status_code == 403

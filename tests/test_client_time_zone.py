"""Times are the client's: an expiry entered as 28 December 18:00 for a Chicago client is the
instant the owner sees, signs and is reminded of, on every page and in every PDF; the API keeps
ISO 8601 with the offset."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail
from django_tenants.utils import tenant_context

from exceptions_register import services
from exceptions_register.models import RiskException
from reports.models import ReportKind
from reports.services import render_report
from tests.conftest import PASSWORD
from tests.evidence.pdftext import pdf_pages
from tests.exceptions_register.factories import authenticator_for, page_options
from tests.mfa import sign_in
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
ENTERED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
EXPIRY = datetime(2026, 12, 29, 0, 0, tzinfo=UTC)  # 28 Dec 18:00 CST (UTC-6)
LOCAL = "2026-12-28 18:00 CST"


def test_an_expiry_entered_in_chicago_is_the_instant_everyone_sees(tenant_a, personas, login):
    with tenant_context(tenant_a), time_machine.travel(ENTERED, tick=False):
        push(Device("billing-01").missing_kb("KB5048685", severity="high"))
        asset = Device("billing-01").asset
    from django.test import Client as HttpClient

    engineer = HttpClient()
    sign_in(engineer, personas.engineer)
    with time_machine.travel(ENTERED, tick=False):
        form = engineer.get("/clients/tenant-a/exceptions/new/").content.decode()
        response = engineer.post(
            "/clients/tenant-a/exceptions/new/",
            {
                "kind": "deferral",
                "ticket_reference": "PSA-2812",
                "reason": "Billing vendor certifies the update after the year-end close.",
                "expires_at": "2026-12-28T18:00",  # what the engineer types, in Chicago
                "approver": personas.owner_a.pk,
                "assets": [asset.pk],
                "control_kind_0": "extra_monitoring",
                "control_description_0": "EDR alerts reviewed daily.",
            },
        )
    assert "Hard expiry (America/Chicago time)" in form
    assert response.status_code == 302, response.content
    with tenant_context(tenant_a):
        exception = RiskException.objects.get(ticket_reference="PSA-2812")
    assert exception.expires_at == EXPIRY

    register = engineer.get(f"/clients/tenant-a/exceptions/{exception.uuid}/").content.decode()
    assert f"<strong>Hard expiry</strong> {LOCAL}" in register

    # The owner reads and signs exactly that instant, named in the text they sign.
    owner = login(personas.owner_a)
    with time_machine.travel(ENTERED, tick=False):
        portal = owner.get(
            f"/clients/tenant-a/portal/exceptions/{exception.uuid}/"
        ).content.decode()
        with tenant_context(tenant_a):
            text = exception.canonical_text()
            digest = exception.canonical_sha256()
        assert "Hard expiry: 2026-12-29T00:00:00Z" in text
        assert f"Hard expiry, local time: {LOCAL} (America/Chicago)" in text
        assert f"Hard expiry, local time: {LOCAL} (America/Chicago)" in portal
        url = f"/clients/tenant-a/portal/exceptions/{exception.uuid}/"
        assertion = authenticator_for(personas.owner_a).get(page_options(owner, url))
        signed = owner.post(
            url,
            {
                "decision": "sign",
                "password": PASSWORD,
                "text_sha256": digest,
                "passkey_assertion": json.dumps(assertion),
            },
        )
    assert signed.status_code == 302
    with tenant_context(tenant_a):
        exception.refresh_from_db()
        assert exception.state == "active"
        assert f"{LOCAL} (America/Chicago)" in exception.signature.signed_text

    # The reminder a week before names the same instant.
    mail.outbox.clear()
    with tenant_context(tenant_a), time_machine.travel(datetime(2026, 12, 21, 18, tzinfo=UTC)):
        assert services.send_due_reminders(client=tenant_a) == 1
    (message,) = mail.outbox
    assert f"{LOCAL} (America/Chicago)" in message.body
    assert f"{LOCAL} (America/Chicago)" in message.alternatives[0][0]

    # So do the pages listing it and the December PDFs.
    with time_machine.travel(datetime(2026, 12, 22, 12, tzinfo=UTC), tick=False):
        sign_in(engineer, personas.engineer)  # sessions of 1 December have expired
        sign_in(owner, personas.owner_a)
        listing = engineer.get("/clients/tenant-a/exceptions/").content.decode()
        home = owner.get("/clients/tenant-a/")
        assert home.status_code == 200, home
        home = home.content.decode()
        with tenant_context(tenant_a):
            register_pdf = " ".join(
                pdf_pages(render_report(tenant_a, ReportKind.EXCEPTIONS, date(2026, 12, 1)))
            )
            monthly_pdf = " ".join(
                pdf_pages(render_report(tenant_a, ReportKind.MONTHLY, date(2026, 12, 1)))
            )
    assert LOCAL in listing and LOCAL in home
    assert LOCAL in register_pdf and LOCAL in monthly_pdf
    assert "UTC" not in register_pdf.replace("generated", "")

    # The API keeps ISO 8601 with the offset.
    sign_in(engineer, personas.engineer)
    body = engineer.get(f"/clients/tenant-a/api/v1/exceptions/{exception.uuid}/").json()
    assert body["expires_at"] == "2026-12-29T00:00:00Z"


def test_a_berlin_client_reads_its_own_zone(tenant_b, personas, login):
    with tenant_context(tenant_b), time_machine.travel(datetime(2026, 7, 1, 8, tzinfo=UTC)):
        push(Device("lager-01").missing_kb("KB5040442", severity="critical"))
    page = login(personas.owner_b).get("/clients/tenant-b/findings/").content.decode()
    assert "2026-07-01 10:00 CEST" in page  # 08:00Z in Berlin summer time

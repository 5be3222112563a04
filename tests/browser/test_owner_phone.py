"""A client owner signs an exception on a phone-sized screen (390 × 844): every page of the way
fits without sideways scrolling, every control has a label, and the sentence in plain words
comes before the exact text."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.plain import plain_summary
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import make_exception
from tests.mfa import fresh_code
from tests.producers import Device, reported_finding

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}

# Visible form controls without a label, an aria-label or aria-labelledby; and how far the page
# is wider than the screen.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _fits(page) -> None:
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url} scrolls sideways on a phone"
    assert page.evaluate(UNLABELLED) == [], f"{page.url} has controls without a label"


@pytest.fixture
def phone(chromium, live_url):
    context = chromium.new_context(base_url=live_url, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_owner_signs_on_a_phone(phone, fresh_client):
    client, owner = fresh_client
    with tenant_context(client):
        finding = reported_finding(
            Device("srv-patient-records-01", os="windows_server", role="server", ephi=True),
            kb="KB5068791",
            severity="critical",
        )
        exception = make_exception(
            client=client,
            approver=owner,
            actor=User.objects.get(email="engineer@msp.test"),
            findings=[finding],
            assets=[],
            ticket_reference="PSA-PHONE-1",
        )
        summary = plain_summary(exception, tz=client.tz)
    connection.set_schema_to_public()

    sign_in(phone, owner.email, PASSWORD)
    phone.goto(f"/clients/{client.slug}/")
    _fits(phone)
    phone.click("text=Review and sign")
    phone.wait_for_load_state("networkidle")
    assert phone.locator("[data-testid=plain-summary]").inner_text() == summary
    _fits(phone)
    phone.fill("#id_password", PASSWORD)
    phone.fill("#id_totp_code", fresh_code(owner))
    phone.click("[data-testid=sign]")
    phone.wait_for_load_state("networkidle")
    assert "/portal/exceptions/" in phone.url
    _fits(phone)
    with tenant_context(client):
        assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.ACTIVE
    connection.set_schema_to_public()

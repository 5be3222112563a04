"""A client owner signs an exception in the portal, re-entering the password; it turns active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from exceptions_register.models import RiskException
from tenants.models import Client, User
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import make_exception
from tests.producers import reported_asset

pytestmark = pytest.mark.browser


@pytest.fixture
def pending(fresh_client) -> Iterator[tuple[RiskException, Client, User]]:
    client, owner = fresh_client
    with tenant_context(client):
        asset = reported_asset("browser-sign-01")
        exception = make_exception(
            client=client,
            approver=owner,
            actor=User.objects.get(email="engineer@msp.test"),
            assets=[asset],
            ticket_reference="PSA-BROWSER-1",
        )
    connection.set_schema_to_public()
    yield exception, client, owner


def test_owner_signs_in_the_portal_and_the_register_shows_it_active(page, pending):
    exception, client, owner = pending
    sign_in(page, owner.email, PASSWORD)
    page.locator("[data-testid=portal-link] a").click()
    page.locator("[data-testid=awaiting] >> text=PSA-BROWSER-1").click()
    assert "browser-sign-01" in page.locator("[data-testid=canonical-text]").inner_text()

    # A wrong password signs nothing.
    page.fill("#id_password", "not-my-password")
    page.locator("[data-testid=sign]").click()
    assert "password is not correct" in page.locator("[role=alert]").first.inner_text()
    assert page.locator("[data-testid=state]").inner_text() == "Pending sign-off"

    page.fill("#id_password", PASSWORD)
    page.locator("[data-testid=sign]").click()
    page.wait_for_load_state("networkidle")
    assert "Signed." in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=awaiting]").count() == 0

    page.goto(f"/clients/{client.slug}/exceptions/?state=active")
    row = page.locator("[data-testid=exception-row]", has_text="PSA-BROWSER-1")
    assert row.locator("[data-testid=state]").inner_text() == "Active"

    with tenant_context(client):
        signed = RiskException.objects.select_related("signature").get(pk=exception.pk)
    assert signed.state == "active"
    assert signed.signature.user_agent and "Chrome" in signed.signature.user_agent
    assert signed.signature.ip_address == "127.0.0.1"

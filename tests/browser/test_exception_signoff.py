"""A client owner signs an exception in the portal, re-entering the password; it turns active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from exceptions_register.models import RiskException, Signature
from tenants.models import Client, User
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import make_exception
from tests.inventory.factories import AssetFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def pending(committed) -> Iterator[RiskException]:
    client = Client.objects.get(slug="tenant-a")
    owner = User.objects.get(email="owner@a.test")
    with tenant_context(client):
        asset = AssetFactory(hostname="browser-sign-01")
        exception = make_exception(
            client=client,
            approver=owner,
            actor=User.objects.get(email="engineer@msp.test"),
            assets=[asset],
            ticket_reference="PSA-BROWSER-1",
        )
    yield exception
    with tenant_context(client), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL patchops.exceptions_purge = 'on'")
        Signature.objects.filter(exception=exception).delete()
        RiskException.objects.filter(pk=exception.pk).delete()
        asset.delete()
        # Its evidence events stay: the evidence log is append-only, the database refuses deletes.
        assert not RiskException.objects.filter(ticket_reference="PSA-BROWSER-1").exists()
    connection.set_schema_to_public()
    # Leave no idle session behind: the session-end teardown cannot drop a database in use.
    connection.close()


def test_owner_signs_in_the_portal_and_the_register_shows_it_active(page, pending):
    sign_in(page, "owner@a.test", PASSWORD)
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

    page.goto("/clients/tenant-a/exceptions/?state=active")
    row = page.locator("[data-testid=exception-row]", has_text="PSA-BROWSER-1")
    assert row.locator("[data-testid=state]").inner_text() == "Active"

    with tenant_context(Client.objects.get(slug="tenant-a")):
        signed = RiskException.objects.select_related("signature").get(pk=pending.pk)
    assert signed.state == "active"
    assert signed.signature.user_agent and "Chrome" in signed.signature.user_agent
    assert signed.signature.ip_address == "127.0.0.1"

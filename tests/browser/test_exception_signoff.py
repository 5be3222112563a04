"""A client owner registers a passkey and signs an exception in the portal with it (Chromium's
virtual WebAuthn authenticator, driven by static/js/passkeys.js), re-entering the password; it
turns active and the signature is the passkey's. An owner whose only factor is a passkey gives
it at the second step of signing in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "passkeys.js"


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


@pytest.fixture
def passkey_page(chromium, live_url, settings):
    """A page on http://localhost:<port> (a passkey's relying party is a host name, never an
    IP address) with a virtual authenticator that verifies its user."""
    port = live_url.rsplit(":", 1)[1]
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGIN = [f"http://localhost:{port}"]
    context = chromium.new_context(base_url=f"http://localhost:{port}")
    # The test live server serves no static files: the pages' own <script src> is answered
    # from disk (an injected inline script would be refused by the Content-Security-Policy).
    context.route(
        "**/static/js/passkeys.js",
        lambda route: route.fulfill(path=str(SCRIPT), content_type="text/javascript"),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield page
    context.close()


def test_owner_signs_in_the_portal_and_the_register_shows_it_active(passkey_page, pending):
    page = passkey_page
    exception, client, owner = pending
    sign_in(page, owner.email, PASSWORD)
    page.goto("/accounts/passkeys/")
    page.fill("#passkey-name", "Browser key")
    page.locator("[data-testid=add-passkey]").click()
    page.wait_for_selector("[data-testid=passkey-row]")
    assert "Passkey “Browser key” added." in page.locator(".messages").inner_text()

    page.goto(f"/clients/{client.slug}/")
    page.locator("[data-testid=portal-link] a").click()
    item = page.locator("[data-testid=awaiting-item]", has_text="PSA-BROWSER-1")
    item.get_by_role("link", name="Review and sign").click()
    assert "browser-sign-01" in page.locator("[data-testid=canonical-text]").inner_text()

    # A wrong password signs nothing.
    page.fill("#id_password", "not-my-password")
    page.locator("[data-testid=sign-passkey]").click()
    page.wait_for_selector("[role=alert] >> text=password is not correct")
    assert page.locator("[data-testid=state]").inner_text() == "Pending sign-off"

    page.fill("#id_password", PASSWORD)
    page.locator("[data-testid=sign-passkey]").click()
    page.wait_for_selector(".messages")
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
    assert signed.signature.method == "passkey"
    assert signed.signature.client_data_json


def test_a_passkey_only_owner_signs_in_with_the_passkey(passkey_page, fresh_client):
    from accounts.mfa import services
    from tests.mfa import fresh_code

    page = passkey_page
    _client, owner = fresh_client
    sign_in(page, owner.email, PASSWORD)  # the first sign-in adds an authenticator app
    page.goto("/accounts/passkeys/")
    page.fill("#passkey-name", "Browser key")
    page.locator("[data-testid=add-passkey]").click()
    page.wait_for_selector("[data-testid=passkey-row]")
    services.remove_factor(user=owner, code=fresh_code(owner))  # now the passkey alone

    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/accounts/mfa/verify/" in page.url
    assert page.locator("#id_code").count() == 0  # no authenticator app: no code to type
    page.locator("[data-testid=passkey-verify]").click()
    page.wait_for_url(lambda url: "/accounts/mfa/" not in url)
    page.goto("/accounts/passkeys/")
    assert "/accounts/passkeys/" in page.url  # a verified session: the page answers
    assert page.locator("[data-testid=passkey-row]").count() == 1

"""An engineer signs in and sees every client; a client owner sees only their own client."""

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_engineer_signs_in_and_sees_the_client_list(page):
    sign_in(page, "engineer@msp.test", PASSWORD)
    table = page.locator("[data-testid=client-list]")
    assert table.locator("text=Alpha Clinic").count() == 1
    assert table.locator("text=Bravo Logistics").count() == 1
    table.locator("text=Bravo Logistics").click()
    assert page.locator("[data-testid=client-title]").inner_text() == "Bravo Logistics"


def test_client_owner_lands_in_own_client_only(page):
    sign_in(page, "owner@a.test", PASSWORD)
    assert page.url.endswith("/clients/tenant-a/")
    assert page.locator("[data-testid=client-title]").inner_text() == "Alpha Clinic"
    assert page.locator("text=Switch client").count() == 0
    response = page.goto("/clients/tenant-b/")
    assert response.status == 404
    assert "Bravo" not in page.content()


def test_wrong_password_shows_an_error(page):
    sign_in(page, "engineer@msp.test", "not-the-password")
    assert "do not match" in page.locator("[role=alert]").inner_text()
    assert "/accounts/login/" in page.url

"""An engineer registers a shared-admin account, finding its systems with the search box."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.producers import Device, push

pytestmark = pytest.mark.browser


@pytest.fixture
def estate(fresh_client):
    client, _owner = fresh_client
    with tenant_context(client):
        push([Device("fw-edge-01"), Device("dc-01"), Device("lobby-kiosk-02")])
    connection.set_schema_to_public()
    return client


def test_engineer_registers_an_account_picking_systems_by_search(page, estate):
    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"/clients/{estate.slug}/privileged-accounts/new/")
    options = page.locator("#systems-list .check-option")
    assert options.count() == 3
    page.fill("#system-search", "dc-")
    visible = page.locator("#systems-list .check-option:visible")
    assert visible.count() == 1
    visible.first.locator("input").check()
    page.fill("#system-search", "fw")
    page.locator("#systems-list .check-option:visible", has_text="fw-edge-01").locator(
        "input"
    ).check()
    # A checked system stays in view whatever the search says.
    assert page.locator("#systems-list .check-option:visible").count() == 2
    page.select_option("#id_kind", "shared_admin")
    page.fill("#id_name", "Edge admin")
    page.fill("#id_identifier", "edge-admin")
    page.fill("#id_owner_name", "Robin Ops")
    page.fill("#id_owner_email", "robin@client.test")
    page.select_option("#id_mfa_state", "enforced")
    page.locator("[data-testid=account-form] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    details = page.locator("[data-testid=account-details]").inner_text()
    assert "dc-01" in details and "fw-edge-01" in details
    assert "lobby-kiosk-02" not in details

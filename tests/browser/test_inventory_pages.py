"""An engineer filters the asset list by ePHI system: yes and opens an asset."""

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
        # Their agents report: the EHR database server (with Chrome) and a lobby kiosk.
        ehr = Device(
            "ehr-db-01",
            os="windows_server",
            ephi=True,
            attributes={"data_flows": ["creates", "transmits"], "owner": "Dr. Patel"},
        )
        push([ehr, Device("lobby-kiosk-02", ephi=False)])  # fmt: skip
    connection.set_schema_to_public()
    return client


def test_engineer_filters_by_ephi_and_opens_an_asset(page, estate):
    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"/clients/{estate.slug}/assets/")
    rows = page.locator("[data-testid=asset-row]")
    assert rows.count() == 2
    page.check("[data-select-all]")
    assert page.locator("#bulk-tag input[name=assets]:checked").count() == 2

    page.select_option("[data-testid=asset-filters] select[name=is_ephi]", label="ePHI system: yes")
    page.locator("[data-testid=asset-filters] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "is_ephi=true" in page.url
    assert rows.count() == 1
    assert "lobby-kiosk-02" not in page.locator("[data-testid=asset-table]").inner_text()

    rows.first.locator("a", has_text="ehr-db-01").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=asset-hostname]").inner_text() == "ehr-db-01"
    assert "ePHI system: yes" in page.content()
    assert "Google Chrome" in page.locator("[data-testid=software]").inner_text()
    assert "Dr. Patel" in page.locator("[data-testid=business]").inner_text()

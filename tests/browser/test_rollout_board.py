"""An engineer previews a rollout on the board, starts it and sees the canary skipped (no canary
device needs the patch) while the pilot waits for its approval; devices arrive through the
discovery API and join their rings on their own."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rings import services
from rings.models import RingMembership
from tenants.choices import TokenScope
from tenants.services import issue_api_token
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.rings.producers import Device, Fleet

pytestmark = pytest.mark.browser
KB = "KB5039212"


@pytest.fixture
def office(fresh_client):
    client, _owner = fresh_client
    token = issue_api_token(name="agents", scope=TokenScope.AGENT, client=client).plaintext
    fleet = Fleet(token, slug=client.slug)
    fleet.add(
        *[Device(f"FRONTDESK-{i:02d}") for i in range(1, 13)],
        Device("app-srv-01", os="ubuntu"),
        Device("KIOSK-01", os="macos", attributes={"role": "shared_kiosk"}),
    )
    fleet.push()
    with tenant_context(client):
        rings = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
    later = [
        n for n, d in fleet.devices.items() if d.os == "windows" and rings[n.lower()] != "canary"
    ]
    fleet.missing(KB, *later)
    fleet.push(*later)
    connection.set_schema_to_public()
    return client, rings, later


def test_engineer_previews_starts_and_sees_the_skipped_canary(page, office):
    client, rings, later = office
    pilot = sum(1 for n in later if rings[n.lower()] == "pilot")
    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"/clients/{client.slug}/rings/")
    assert page.locator("[data-testid=first-seen-count]").inner_text() == str(len(rings))

    page.goto(f"/clients/{client.slug}/rollouts/")
    page.fill("#id_name", "June cumulative")
    page.select_option("#id_selection", "patch_identifiers")
    page.fill("#id_patch_identifiers", KB)
    page.click("[data-testid=preview-button]")
    page.wait_for_load_state("networkidle")
    preview = page.locator("[data-testid=preview]")
    assert preview.locator("[data-testid=preview-devices-canary]").inner_text() == "0"
    assert preview.locator("[data-testid=preview-devices-pilot]").inner_text() == str(pilot)
    assert "will be skipped" in preview.locator("[data-testid=preview-canary]").inner_text()

    page.click("[data-testid=create-rollout]")
    page.wait_for_load_state("networkidle")
    assert "Rollout created" in page.locator(".messages").inner_text()
    with tenant_context(client):
        services.evaluate_active_rollouts()
    connection.set_schema_to_public()
    page.reload()
    canary = page.locator("[data-testid=wave-canary]")
    assert canary.get_attribute("data-state") == "skipped"
    assert "Skipped" in canary.inner_text()
    assert page.locator("[data-testid=wave-pilot]").get_attribute("data-state") == "awaiting"
    assert page.locator("[data-testid=approve-pilot]").is_visible()

"""An engineer plans a rollout in the browser: adds an every-day maintenance window (the form
shows only the chosen recurrence's fields), finds the patch in the per-patch list by
searching, previews each ring's devices with the window they fall in, creates the rollout,
approves the canary and watches each device's job status change as the agents report, without
reloading the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rings import services
from rings.models import RingMembership
from tenants.choices import TokenScope
from tenants.services import issue_api_token
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import serious_violations
from tests.conftest import PASSWORD
from tests.rings.producers import Device, Fleet

pytestmark = pytest.mark.browser
KB = "KB5039212"
OTHER = "KB5040101"


@pytest.fixture
def office(fresh_client):
    client, _owner = fresh_client
    token = issue_api_token(name="agents", scope=TokenScope.AGENT, client=client).plaintext
    fleet = Fleet(token, slug=client.slug)
    fleet.add(
        *[Device(f"FRONTDESK-{i:02d}") for i in range(1, 13)],
        Device("app-srv-01", os="ubuntu"),
    )
    fleet.push()
    windows = [n for n, d in fleet.devices.items() if d.os == "windows"]
    fleet.missing(KB, *windows)
    fleet.missing(OTHER, *windows[:3], severity="high")
    fleet.push(*windows)
    with tenant_context(client):
        rings = dict(RingMembership.objects.values_list("asset__hostname", "ring__key"))
    connection.set_schema_to_public()
    return client, fleet, rings, windows


def _tick(client) -> None:
    """The rollout beat for this client."""
    with tenant_context(client):
        services.evaluate_active_rollouts()
    connection.set_schema_to_public()


def test_engineer_plans_a_rollout_and_watches_its_jobs(page, office):
    client, fleet, rings, windows = office
    base = f"/clients/{client.slug}/"
    canary = sorted(n.lower() for n in windows if rings[n.lower()] == "canary")
    assert len(canary) >= 2
    sign_in(page, "engineer@msp.test", PASSWORD)

    # A window open every day, all day; the form follows the chosen recurrence.
    page.goto(base + "maintenance-windows/")
    form = page.locator("[data-testid=window-form]")
    page.select_option("#id_recurrence", "monthly_day")
    assert form.locator("[data-testid=field-day_of_month]").is_visible()
    assert not form.locator("[data-testid=field-weekdays]").is_visible()
    assert not form.locator("[data-testid=field-nth]").is_visible()
    page.select_option("#id_recurrence", "weekly")
    assert form.locator("[data-testid=field-weekdays]").is_visible()
    assert not form.locator("[data-testid=field-day_of_month]").is_visible()
    assert not form.locator("[data-testid=field-offset_days]").is_visible()
    assert not form.locator("[data-testid=field-site]").is_visible()
    page.fill("#id_name", "Any time")
    for day in range(7):
        page.check(f"#id_weekdays_{day}")
    page.fill("#id_start_time", "00:00")
    page.fill("#id_duration_minutes", "1440")
    page.click("[data-testid=save-window]")
    page.wait_for_load_state("networkidle")
    assert (
        "Every day 00:00–00:00 (next day) Chicago time"
        in page.locator("[data-testid=window-rule]").inner_text()
    )
    assert "open now" in page.locator("[data-testid=window-calendar]").inner_text()
    assert serious_violations(page) == []

    # Find the patch by searching the per-patch list, tick it and preview.
    page.goto(base + "rollouts/")
    listed = page.locator("[data-testid=patch-list]")
    assert listed.locator(f"[data-testid=patch-{KB}] [data-testid=patch-devices]").inner_text() == (
        str(len(windows))
    )
    assert (
        listed.locator(f"[data-testid=patch-{OTHER}] [data-testid=patch-devices]").inner_text()
        == "3"
    )
    page.fill("[data-testid=patch-search]", KB.lower())
    assert not listed.locator(f"[data-testid=patch-{OTHER}]").is_visible()
    page.check(f"[data-testid=patch-{KB}] input[name=patches]")
    page.fill("#id_name", "June cumulative")
    page.click("[data-testid=preview-button]")
    page.wait_for_load_state("networkidle")
    preview = page.locator("[data-testid=preview]")
    for ring in ("canary", "pilot", "production"):
        count = sum(1 for n in windows if rings[n.lower()] == ring)
        assert preview.locator(f"[data-testid=preview-devices-{ring}]").inner_text() == str(count)
    for hostname in canary:
        row = preview.locator(f"[data-testid=preview-device-{hostname}]")
        assert KB in row.inner_text() and "Any time" in row.inner_text()
        assert " 00:00 C" in row.locator("[data-testid=preview-window]").inner_text()  # CST/CDT
    assert OTHER not in preview.inner_text()
    assert serious_violations(page) == []

    # Create it: the rollout's page lists the devices; approve the canary.
    page.click("[data-testid=create-rollout]")
    page.wait_for_load_state("networkidle")
    assert "Rollout created" in page.locator(".messages").inner_text()
    assert "/rollouts/" in page.url and page.url.rstrip("/").split("/")[-1] != "rollouts"
    page.click("[data-testid=approve-canary]")
    page.wait_for_load_state("networkidle")
    assert "Approved." in page.locator(".messages").inner_text()

    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    _tick(client)  # promoted in its open window: install jobs go to the canary's agents
    status = page.locator("[data-testid=job-status]").first
    page.wait_for_selector("[data-testid=status-wave-canary][data-state=deploying]")
    for hostname in canary:
        page.wait_for_selector(f"[data-testid=device-{hostname}][data-status=pending]")

    # The agents report: the first canary device installs the patch, the second fails.
    first, second = (fleet.devices[n] for n in sorted(windows) if n.lower() in canary[:2])
    for device, ok in ((first, True), (second, False)):
        for job in fleet.poll(device):
            fleet.report(device, job, ok, message="0x80070643")
    page.wait_for_selector(f"[data-testid=device-{canary[0]}][data-status=deployed]")
    page.wait_for_selector(f"[data-testid=device-{canary[1]}][data-status=failed]")
    failed = page.locator(f"[data-testid=device-{canary[1]}]").inner_text()
    assert "Failed" in failed and "0x80070643" in failed
    assert "Deployed" in page.locator(f"[data-testid=device-{canary[0]}]").inner_text()
    assert status.is_visible()
    assert navigations == []  # no reload: the page polled its status
    assert serious_violations(page) == []

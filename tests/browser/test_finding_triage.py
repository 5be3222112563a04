"""An engineer marks a finding not applicable from the findings queue, with a reason; the
finding waits for an MSP admin other than the engineer, who approves it on the finding page;
it leaves open work closed as not applicable, with reason, requester and approver shown. The
finding came from an agent's inventory through ingest and matching."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.producers import Device, reported_finding

pytestmark = pytest.mark.browser

REASON = "The print spooler role is removed on this kiosk image."


@pytest.fixture
def findings(fresh_client):
    client, _owner = fresh_client
    with tenant_context(client):
        kiosk = reported_finding(Device("kiosk-lobby-01"), kb="KB5068791", severity="high")
        other = reported_finding(Device("pc-front-02"), kb="KB5068791", severity="high")
    connection.set_schema_to_public()
    return client, kiosk, other


def test_engineer_marks_not_applicable_and_another_admin_approves(
    page, chromium, live_url, findings
):
    client, kiosk, other = findings
    base = f"/clients/{client.slug}/"
    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"{base}findings/")
    rows = page.locator("[data-testid=finding-row]")
    assert rows.count() == 2
    page.locator(f"[data-testid=choose-finding][value='{kiosk.uuid}']").check()
    # Without a reason nothing changes and the page says why.
    page.click("[data-testid=do-not_applicable]")
    page.wait_for_load_state("networkidle")
    assert "reason" in page.content().lower()
    with tenant_context(client):
        assert not kiosk.triage.exists()
    connection.set_schema_to_public()

    page.goto(f"{base}findings/")
    page.locator(f"[data-testid=choose-finding][value='{kiosk.uuid}']").check()
    page.fill("[data-testid=not_applicable-reason]", REASON)
    page.click("[data-testid=do-not_applicable]")
    page.wait_for_load_state("networkidle")
    assert "1" in page.locator(".messages").inner_text()

    page.goto(f"{base}findings/{kiosk.uuid}/")
    pending = page.locator("[data-testid=triage-row][data-state=pending]")
    assert REASON in pending.inner_text()
    # The engineer cannot approve their own request: it awaits an MSP admin.
    assert page.locator("[data-testid=triage-approve]").count() == 0
    assert "awaiting an MSP admin other than engineer@msp.test" in pending.inner_text()

    admin_context = chromium.new_context(base_url=live_url)
    try:
        admin = admin_context.new_page()
        admin.set_default_timeout(15_000)
        sign_in(admin, "admin@msp.test", PASSWORD)
        admin.goto(f"{base}findings/{kiosk.uuid}/")
        admin.click("[data-testid=triage-approve]")
        admin.wait_for_load_state("networkidle")
        admin.goto(f"{base}findings/{kiosk.uuid}/")
        assert admin.locator("[data-testid=finding-state]").inner_text() == "Not applicable"
        closed = admin.locator("[data-testid=finding-closed-by]").inner_text()
        assert REASON in closed
        assert "engineer@msp.test" in closed and "admin@msp.test" in closed
        # Open work keeps only the other device's finding.
        admin.goto(f"{base}findings/")
        hosts = admin.locator("[data-testid=finding-host]").all_inner_texts()
        assert len(hosts) == 1 and hosts[0].startswith("pc-front-02")
    finally:
        admin_context.close()

    with tenant_context(client):
        assert Finding.objects.get(pk=kiosk.pk).state == "not_applicable"
        assert Finding.objects.get(pk=other.pk).state == "open"
        kinds = list(
            EvidenceEvent.objects.filter(kind__startswith="finding.triage")
            .order_by("sequence")
            .values_list("kind", "actor")
        )
        assert kinds == [
            ("finding.triage_requested", "engineer@msp.test"),
            ("finding.triage_approved", "admin@msp.test"),
        ]
    connection.set_schema_to_public()

"""An engineer groups the findings by patch, drills into one patch, chooses its findings and
adds them to a new rollout; the devices reported through ingest."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rings.models import Rollout
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.producers import Office, office

pytestmark = pytest.mark.browser


@pytest.fixture
def fleet(fresh_client):
    client, _owner = fresh_client
    with tenant_context(client):
        built = office("KB5068791", severity="critical")
        linux = sorted(
            str(f.uuid) for f in built.findings if f.patch_identifier == Office.LINUX_PATCH
        )
        windows = sum(1 for d in built.devices if d.os.startswith("windows"))
    connection.set_schema_to_public()
    return client, linux, windows


def test_engineer_groups_by_patch_and_adds_findings_to_a_rollout(page, fleet):
    client, linux, windows = fleet
    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"/clients/{client.slug}/findings/")
    page.click("[data-testid=group-by-patch]")
    group = page.locator("[data-testid=patch-group][data-patch='KB5068791']")
    assert group.get_attribute("data-devices") == str(windows)
    assert f"missing on {windows} devices" in group.inner_text()

    page.click(
        f"[data-testid=patch-group][data-patch='{Office.LINUX_PATCH}'] [data-testid=drill-down]"
    )
    boxes = page.locator("[data-testid=choose-finding]")
    assert boxes.count() == len(linux)
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.fill("[data-testid=rollout-name]", "OpenSSL fix")
    page.click("[data-testid=do-rollout]")
    page.wait_for_load_state("networkidle")
    assert "Rollout “OpenSSL fix” created" in page.content()

    with tenant_context(client):
        rollout = Rollout.objects.get(name="OpenSSL fix")
        assert rollout.patch_identifiers == [Office.LINUX_PATCH]
        assert sorted(str(u) for u in rollout.findings.values_list("uuid", flat=True)) == linux
    connection.set_schema_to_public()

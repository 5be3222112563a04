"""The demo seeds findings from the demo assets' pending updates and a scorecard trend."""

from __future__ import annotations

import pytest

from patchops.choices import FindingState
from patchops.demo import TREND_DAYS, seed_client
from patchops.models import Finding
from scorecards.models import ScorecardRow
from tests.inventory.factories import AssetFactory, PendingUpdateFactory


@pytest.mark.django_db
def test_demo_spreads_findings_and_writes_scorecard_rows(in_tenant_a):
    for i in range(12):
        asset = AssetFactory(core_server=i % 4 == 0)
        for n in range(3):
            PendingUpdateFactory(asset=asset, advisory=f"KB50{i:02d}{n:03d}", severity="high")
    seed_client(in_tenant_a)
    states = set(Finding.objects.values_list("state", flat=True))
    assert Finding.objects.count() == 36
    assert {FindingState.VERIFIED, FindingState.OPEN} <= states
    verified = Finding.objects.filter(state=FindingState.VERIFIED).first()
    assert verified.asset.software.filter(name=verified.patch_identifier).exists()
    rows = ScorecardRow.objects.filter(client=in_tenant_a)
    assert rows.count() == TREND_DAYS
    assert rows.order_by("-date").first().assets_in_scope == 12


@pytest.mark.django_db
def test_demo_after_inventory_demo_keeps_past_detection_times(in_tenant_a):
    """The inventory demo ingests without opening findings; the patch core's demo opens them
    weeks back, so overdue and verified-last-month findings exist (empty catalogue)."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.demo import seed_client as seed_inventory

    seed_inventory(in_tenant_a)
    assert Finding.objects.count() == 0
    seed_client(in_tenant_a)
    now = timezone.now()
    assert Finding.objects.filter(detected_at__lt=now - timedelta(days=8)).exists()
    assert Finding.objects.filter(state=FindingState.OPEN, due_at__lt=now).exists()
    assert Finding.objects.filter(state=FindingState.VERIFIED).exists()

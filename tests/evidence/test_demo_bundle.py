"""The demo's evidence bundle verifies with its own offline verifier, although the demo, like
agents that report late, records events whose stated times are not in sequence order."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence import verify_bundle
from evidence.models import EvidenceEvent, StoredReport
from tenants.demo import seed_client_data

pytestmark = pytest.mark.django_db


def test_the_demo_bundle_verifies_offline(tenant_a, tmp_path: Path) -> None:
    with time_machine.travel(datetime(2026, 11, 3, 12, tzinfo=UTC), tick=False):
        seed_client_data(tenant_a)
    with tenant_context(tenant_a):
        times = list(
            EvidenceEvent.objects.order_by("sequence").values_list("occurred_at", flat=True)
        )
        assert any(later < earlier for earlier, later in pairwise(times)), (
            "the demo no longer records out-of-order times; this test would prove less"
        )
        bundle = StoredReport.objects.get(kind="bundle", period=date(2026, 10, 1))
        with bundle.file.open("rb") as fh:
            data = fh.read()
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(data)
    assert verify_bundle.verify(str(archive)) == []
    with zipfile.ZipFile(io.BytesIO(data)) as bundle_zip:
        assert bundle_zip.read("evidence/events.jsonl").strip()

"""The chain's head is witnessed: every stored report records the head in the public schema and
prints it, so deleting the newest events or replacing a stored file no longer goes unnoticed."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from evidence import verify_bundle
from evidence.models import EvidenceEvent, StoredReport
from evidence.reports import generate_report
from evidence.selectors import verify_chain
from inventory.models import DiscoverySchedule
from inventory.services import update_discovery_schedule
from tenants.choices import TokenScope
from tenants.models import EvidenceCheckpoint

pytestmark = pytest.mark.django_db
PERIOD = date(2026, 11, 1)


def _changes(n: int) -> None:
    """``n`` events from a real producer: the discovery hour changed ``n`` times."""
    schedule = DiscoverySchedule.current()
    for i in range(n):
        update_discovery_schedule(schedule=schedule, actor="admin@msp.test", local_hour=i + 3)


def _bypass(sql: str) -> None:
    """Tamper as a superuser would: with the append-only triggers switched off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_a_stored_report_witnesses_the_head_in_the_public_schema_and_prints_it(tenant_a):
    with tenant_context(tenant_a):
        _changes(3)
        report = generate_report(client=tenant_a, kind="inventory", period=PERIOD)
        head = EvidenceEvent.objects.order_by("-sequence").first()
        assert head.kind == "report.generated" and head.sequence == 4
        with report.file.open("rb") as fh:
            pdf = fh.read()
    [checkpoint] = EvidenceCheckpoint.objects.filter(client=tenant_a)
    assert (checkpoint.sequence, checkpoint.hash, checkpoint.reference) == (
        4,
        head.hash,
        report.uuid,
    )
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    rendered_head = " ".join(text.split())
    assert "Evidence chain head at generation: event #3, SHA-256" in rendered_head


def test_deleting_the_newest_events_is_detected(tenant_a):
    with tenant_context(tenant_a):
        _changes(3)
        generate_report(client=tenant_a, kind="inventory", period=PERIOD)  # witnesses #4
        _changes(2)  # #5, #6
        assert verify_chain().ok
        _bypass("DELETE FROM evidence_evidenceevent WHERE sequence >= 4")
        status = verify_chain()
        assert not status.ok
        assert status.count == 3 and status.broken.sequence == 4
        assert "the chain ends at #3, before event #4" in status.summary()
        assert "inventory report 2026-11 v1" in status.summary()
        with pytest.raises(CommandError) as failed:
            call_command("verify_evidence", "tenant-a")
        assert "events were deleted" in str(failed.value)


def test_a_rewritten_witnessed_event_is_detected_even_with_its_hash_recomputed(tenant_a):
    """A forger who rewrites an event and recomputes every hash after it still disagrees with
    the head the report witnessed."""
    with tenant_context(tenant_a):
        _changes(2)
        generate_report(client=tenant_a, kind="inventory", period=PERIOD)
        before = verify_chain()
        events = list(EvidenceEvent.objects.order_by("sequence"))
        events[0].payload = {"before": {}, "after": {"local_hour": 23}}
        prev = events[0].prev_hash
        for event in events:
            event.prev_hash = prev
            event.hash = event.compute_hash()
            prev = event.hash
            payload = json.dumps(event.payload)
            _bypass(
                f"UPDATE evidence_evidenceevent SET payload = '{payload}', "
                f"prev_hash = '{event.prev_hash}', hash = '{event.hash}' "
                f"WHERE sequence = {event.sequence}"
            )
        status = verify_chain()
    assert before.ok and not status.ok
    assert "recorded" in status.broken.problem and status.broken.sequence == 3


def test_a_replaced_report_file_is_refused_on_download_and_evented(tenant_a, api, make_token):
    with tenant_context(tenant_a):
        _changes(1)
        report = generate_report(client=tenant_a, kind="inventory", period=PERIOD)
    with tenant_context(tenant_a), report.file.storage.open(report.file.name, "wb") as fh:
        fh.write(b"%PDF-1.7 a different document")
    _, token = make_token(TokenScope.READ, tenant_a)
    http = api(token)
    response = http.get(f"/clients/tenant-a/api/v1/reports/{report.uuid}/download/")
    assert response.status_code == 409
    assert "no longer matches the SHA-256" in response.json()["detail"]
    with tenant_context(tenant_a):
        refused = EvidenceEvent.objects.get(kind="report.integrity_failed")
        assert refused.subject_id == str(report.uuid)
        assert refused.payload["expected_sha256"] == report.sha256
        assert verify_chain().ok


def test_an_intact_report_downloads_with_its_sha256(tenant_a, api, make_token):
    with tenant_context(tenant_a):
        report = generate_report(client=tenant_a, kind="inventory", period=PERIOD)
    _, token = make_token(TokenScope.READ, tenant_a)
    response = api(token).get(f"/clients/tenant-a/api/v1/reports/{report.uuid}/download/")
    assert response.status_code == 200
    assert response["X-Content-SHA256"] == report.sha256


def test_the_bundle_verifier_checks_the_witnessed_heads(tenant_a, tmp_path):
    with tenant_context(tenant_a):
        with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False):
            _changes(2)
            generate_report(client=tenant_a, kind="inventory", period=PERIOD)
            _changes(1)
        generate_report(client=tenant_a, kind="bundle", period=PERIOD)
        bundle = StoredReport.objects.get(kind="bundle")
        with bundle.file.open("rb") as fh:
            data = fh.read()
    original = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(original)
    assert verify_bundle.verify(str(original)) == []
    manifest = json.loads((original / "manifest.json").read_text())
    assert [c["sequence"] for c in manifest["checkpoints"]] == [3]

    # A forger drops the witnessed event and what follows, and makes the manifest agree.
    events_file = original / "evidence" / "events.jsonl"
    kept = [
        line for line in events_file.read_text().splitlines() if json.loads(line)["sequence"] < 3
    ]
    events_file.write_text("".join(line + "\n" for line in kept))
    last = json.loads(kept[-1])
    manifest["events"].update(
        count=len(kept), last_sequence=last["sequence"], last_hash=last["hash"]
    )
    for entry in manifest["files"]:
        if entry["path"] == "evidence/events.jsonl":
            entry["sha256"] = hashlib.sha256(events_file.read_bytes()).hexdigest()
            entry["size"] = events_file.stat().st_size
    (original / "manifest.json").write_text(json.dumps(manifest))
    problems = verify_bundle.verify(str(original))
    assert problems == [
        "checkpoint #3 (inventory report 2026-11 v1): the events end before it "
        "(events were removed)"
    ]

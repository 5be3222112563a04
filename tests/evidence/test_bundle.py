import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine

from evidence.models import EvidenceEvent
from evidence.selectors import chain_head
from reports import verify_bundle
from reports.models import ReportKind
from reports.services import generate_report, store_report
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


OCT_START = datetime(2026, 10, 1, 5, tzinfo=UTC)  # October in America/Chicago
OCT_END = datetime(2026, 11, 1, 5, tzinfo=UTC)


@pytest.fixture
def bundle(in_tenant_a, personas):
    """A September sighting, October detections (one from a device whose agent reports a
    formula as its host name), a review on 31 Oct at 22:00 in Chicago (1 Nov 03:00Z, still
    October there) and a schedule change on 2 November; then the October bundle."""
    from inventory.models import DiscoverySchedule
    from inventory.services import record_policy_review, update_discovery_schedule

    ws = Device("ac-ws-00")
    odd = Device("=1+2")
    with time_machine.travel(datetime(2026, 9, 30, 12, tzinfo=UTC), tick=False):
        push(ws)
    with time_machine.travel(datetime(2026, 10, 10, 12, tzinfo=UTC), tick=False):
        push([ws.missing_kb("KB5044284", severity="high"), odd.missing_kb("KB5044285")])
    with time_machine.travel(datetime(2026, 11, 1, 3, tzinfo=UTC), tick=False):
        record_policy_review(actor=personas.engineer, notes="=cmd|' /C calc'!A0")
    with time_machine.travel(datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False):
        update_discovery_schedule(
            schedule=DiscoverySchedule.current(), actor=personas.msp_admin, local_hour=3
        )
    # The bundle takes stored PDFs as they are; a small stand-in keeps this test fast.
    pdf = store_report(
        client=in_tenant_a, kind=ReportKind.INVENTORY, period=OCTOBER, content=b"%PDF-1.7\n" * 500
    )
    report = generate_report(client=in_tenant_a, kind=ReportKind.BUNDLE, period=OCTOBER)
    with report.file.open("rb") as fh:
        data = fh.read()
    return {"report": report, "data": data, "pdf": pdf}


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes], path) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def _run_verifier(target) -> subprocess.CompletedProcess:
    # -I: isolated mode, no site-packages and no project on the path: standard library only.
    return subprocess.run(
        [sys.executable, "-I", str(verify_bundle.__file__), str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bundle_holds_pdfs_exports_events_manifest_and_verifier(bundle, in_tenant_a):
    members = _members(bundle["data"])
    manifest = json.loads(members["manifest.json"])
    assert bundle["report"].kind == "bundle" and bundle["report"].content_type == "application/zip"
    assert f"reports/{bundle['pdf'].filename}" in members
    assert {
        "evidence/events.jsonl",
        "evidence/events.csv",
        "exports/findings.csv",
        "verify_bundle.py",
    } <= set(members)
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(members) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest()
        assert entry["size"] == len(members[name])
    assert manifest["client"]["slug"] == "tenant-a" and manifest["period"] == "2026-10"
    lines = [json.loads(line) for line in members["evidence/events.jsonl"].decode().splitlines()]
    # Exactly the events that occurred in October in Chicago, in chain order: the September
    # sighting, the 2 November change and the stand-in report's report.generated are outside.
    october = list(
        EvidenceEvent.objects.filter(occurred_at__gte=OCT_START, occurred_at__lt=OCT_END)
        .order_by("sequence")
        .values_list("sequence", "kind")
    )
    assert [(e["sequence"], e["kind"]) for e in lines] == october
    kinds = [kind for _, kind in october]
    assert kinds.count("finding.detected") == 2 and kinds[-1] == "software_policy.reviewed"
    assert "discovery.schedule_changed" not in kinds and "report.generated" not in kinds
    assert manifest["events"]["first_sequence"] == october[0][0]
    assert manifest["events"]["last_sequence"] == october[-1][0]
    assert manifest["events"]["count"] == len(october)
    head = chain_head()
    assert manifest["chain_head"] == {
        "sequence": head.sequence - 1,
        "hash": EvidenceEvent.objects.get(sequence=head.sequence - 1).hash,
    }
    assert manifest["chain_verified_at_generation"] is True
    findings_csv = members["exports/findings.csv"].decode()
    assert "KB5044284" in findings_csv and "ac-ws-00" in findings_csv
    # A host name the agent reported as a formula is neutralised in the CSV exports only.
    assert ",'=1+2," in findings_csv
    assert '"notes":"=cmd|\' /C calc\'!A0"' in members["evidence/events.jsonl"].decode()


def test_offline_verifier_and_server_agree(bundle, tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle["data"])
    result = _run_verifier(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK")
    members = _members(bundle["data"])
    for line in members["evidence/events.jsonl"].decode().splitlines():
        record = json.loads(line)
        server = EvidenceEvent.objects.get(uuid=record["uuid"])
        assert verify_bundle.event_hash(record) == server.compute_hash() == server.hash


def test_extracted_bundle_verifies_from_its_own_folder(bundle, tmp_path):
    with zipfile.ZipFile(io.BytesIO(bundle["data"])) as archive:
        archive.extractall(tmp_path / "x")
    result = subprocess.run(
        [sys.executable, "-I", "verify_bundle.py"],
        cwd=tmp_path / "x",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_one_byte_changed_in_a_file_is_detected(bundle, tmp_path):
    members = _members(bundle["data"])
    name = f"reports/{bundle['pdf'].filename}"
    pdf = bytearray(members[name])
    pdf[len(pdf) // 2] ^= 0x01
    members[name] = bytes(pdf)
    result = _run_verifier(_zip(members, tmp_path / "t.zip"))
    assert result.returncode == 1
    assert f"FAIL {name}: SHA-256 does not match the manifest" in result.stdout


def test_one_event_changed_is_detected_even_with_a_fixed_up_manifest(bundle, tmp_path):
    members = _members(bundle["data"])
    lines = members["evidence/events.jsonl"].decode().splitlines()
    event = json.loads(lines[2])
    event["actor"] = "mallory@evil.test"
    lines[2] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    members["evidence/events.jsonl"] = ("\n".join(lines) + "\n").encode()
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"] == "evidence/events.jsonl":
            entry["sha256"] = hashlib.sha256(members["evidence/events.jsonl"]).hexdigest()
            entry["size"] = len(members["evidence/events.jsonl"])
    members["manifest.json"] = json.dumps(manifest).encode()
    result = _run_verifier(_zip(members, tmp_path / "t.zip"))
    assert result.returncode == 1
    assert (
        f"event #{event['sequence']} ({event['uuid']}): content does not match its hash"
        in result.stdout
    )


def test_added_or_removed_files_are_detected(bundle, tmp_path):
    members = _members(bundle["data"])
    members["notes.txt"] = b"extra"
    del members["evidence/events.csv"]
    result = _run_verifier(_zip(members, tmp_path / "t.zip"))
    assert "notes.txt: present but not listed" in result.stdout
    assert "evidence/events.csv: listed in the manifest but missing" in result.stdout

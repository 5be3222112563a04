import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime

import pytest

from evidence import verify_bundle
from evidence.models import EvidenceEvent, ReportKind
from evidence.reports import generate_report, store_report
from evidence.selectors import chain_head
from evidence.services import record_event
from tests.evidence.factories import seed_chain, seed_inventory

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def bundle(in_tenant_a):
    inv = seed_inventory()
    record_event(
        kind="asset.created",
        subject_type="asset",
        subject_id="before",
        occurred_at=datetime(2026, 9, 30, 12, tzinfo=UTC),
    )
    seed_chain(inv["windows"])
    # 1 Nov 03:00 UTC is still 31 Oct in Chicago: inside the period.
    record_event(
        kind="exception.signed",
        subject_type="exception",
        subject_id="=1+2",
        actor="owner@a.test",
        payload={"note": "=cmd|' /C calc'!A0", "days": 30},
        occurred_at=datetime(2026, 11, 1, 3, tzinfo=UTC),
    )
    record_event(
        kind="asset.created",
        subject_type="asset",
        subject_id="after",
        occurred_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
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
    kinds = [e["kind"] for e in lines]
    # Period is October in America/Chicago: September and 2 Nov events are outside; the inventory
    # report.generated event (now) is outside too.
    assert kinds == [
        "finding.detected",
        "finding.detected",
        "deployment.succeeded",
        "finding.verified",
        "exception.signed",
    ]
    assert manifest["events"]["first_sequence"] == 2 and manifest["events"]["last_sequence"] == 6
    assert manifest["events"]["count"] == 5
    head = chain_head()
    assert manifest["chain_head"] == {
        "sequence": head.sequence - 1,
        "hash": EvidenceEvent.objects.get(sequence=head.sequence - 1).hash,
    }
    assert manifest["chain_verified_at_generation"] is True
    csv_text = members["evidence/events.csv"].decode()
    assert ",'=1+2," in csv_text  # spreadsheet formula neutralised in the CSV export only
    assert '"subject_id":"=1+2"' in members["evidence/events.jsonl"].decode()
    assert "KB5044284" in members["exports/findings.csv"].decode()


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

"""The evidence bundle of one period: a ZIP an auditor can verify offline."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from django.utils import timezone

from common.csvexport import csv_writer

from .models import GENESIS_HASH, ReportKind, canonical_json
from .periods import format_period
from .selectors import (
    chain_head,
    chain_span_for_period,
    iter_events,
    latest_reports,
    period_bounds,
    verify_chain,
)

__all__ = ["build_bundle", "VERIFIER_PATH", "EVENT_FIELDS"]

VERIFIER_PATH = Path(__file__).with_name("verify_bundle.py")
EVENT_FIELDS = [
    "sequence",
    "uuid",
    "occurred_at",
    "kind",
    "actor",
    "subject_type",
    "subject_id",
    "payload",
    "prev_hash",
    "hash",
]
FINDING_FIELDS = [
    "id",
    "asset",
    "patch_identifier",
    "package_name",
    "installed_version",
    "fixed_version",
    "cves",
    "is_kev",
    "tier",
    "risk_score",
    "state",
    "detected_at",
    "due_at",
    "deployed_at",
    "verified_at",
]
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def _csv(rows: list[list[Any]], header: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


def _events(period: date, tz) -> tuple[list[dict[str, Any]], bytes, bytes]:
    records = []
    for event in iter_events(chain_span_for_period(period, tz)):
        records.append({**event.content(), "prev_hash": event.prev_hash, "hash": event.hash})
    jsonl = "".join(canonical_json(r) + "\n" for r in records).encode("utf-8")
    csv_rows = [
        [r[f] if f != "payload" else canonical_json(r["payload"]) for f in EVENT_FIELDS]
        for r in records
    ]
    return records, jsonl, _csv(csv_rows, EVENT_FIELDS)


def _findings_csv(period: date, tz) -> bytes | None:
    from patchops.models import Finding

    _, end = period_bounds(period, tz)
    qs = (
        Finding.objects.filter(detected_at__lt=end)
        .select_related("asset")
        .order_by("detected_at", "id")
    )
    if not qs.exists():
        return None
    rows = [
        [
            f.uuid,
            f.asset.hostname,
            f.patch_identifier,
            f.package_name,
            f.installed_version,
            f.fixed_version,
            " ".join(f.cves),
            f.is_kev,
            f.tier,
            f.risk_score,
            f.state,
            f.detected_at.isoformat(),
            f.due_at.isoformat(),
            f.deployed_at.isoformat() if f.deployed_at else "",
            f.verified_at.isoformat() if f.verified_at else "",
        ]
        for f in qs.iterator(chunk_size=2000)
    ]
    return _csv(rows, FINDING_FIELDS)


def build_bundle(*, client: Any, period: date) -> bytes:
    """ZIP bytes: the period's PDFs, CSV and JSON-lines exports, manifest and offline verifier."""
    tz = client.tz
    files: list[tuple[str, bytes]] = []
    for report in sorted(
        latest_reports(period, exclude_kinds=(ReportKind.BUNDLE,)), key=lambda r: r.kind
    ):
        with report.file.open("rb") as fh:
            files.append((f"reports/{report.filename}", fh.read()))
    records, jsonl, events_csv = _events(period, tz)
    files.append(("evidence/events.jsonl", jsonl))
    files.append(("evidence/events.csv", events_csv))
    findings = _findings_csv(period, tz)
    if findings is not None:
        files.append(("exports/findings.csv", findings))
    files.append(("verify_bundle.py", VERIFIER_PATH.read_bytes()))

    head = chain_head()
    status = verify_chain()
    manifest = {
        "format": "patchops-evidence-bundle/1",
        "client": {"slug": client.slug, "name": client.name, "timezone": client.timezone},
        "period": format_period(period),
        "generated_at": timezone.now().isoformat(),
        "files": [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in files
        ],
        "events": {
            "file": "evidence/events.jsonl",
            "count": len(records),
            "first_sequence": records[0]["sequence"] if records else None,
            "last_sequence": records[-1]["sequence"] if records else None,
            "first_prev_hash": records[0]["prev_hash"] if records else None,
            "last_hash": records[-1]["hash"] if records else None,
        },
        "chain_head": {
            "sequence": head.sequence if head else 0,
            "hash": head.hash if head else GENESIS_HASH,
        },
        # Heads witnessed by earlier reports (kept in the public schema): the included events
        # must agree with every one of them that falls inside their stretch.
        "checkpoints": [
            {
                "sequence": c.sequence,
                "hash": c.hash,
                "source": c.source,
                "recorded_at": c.recorded_at.isoformat(),
            }
            for c in client.checkpoints.filter(
                sequence__gte=records[0]["sequence"] if records else 0,
                sequence__lte=records[-1]["sequence"] if records else 0,
            ).order_by("sequence")
        ],
        "chain_verified_at_generation": status.ok,
        "hash_rule": "sha256(prev_hash + canonical_json(content)); canonical_json = sorted keys, "
        "separators (',', ':'), UTF-8 unescaped; "
        "content = uuid, sequence, occurred_at, kind, actor, "
        "subject_type, subject_id, payload",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [
            ("manifest.json", json.dumps(manifest, indent=2).encode("utf-8")),
            *files,
        ]:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()

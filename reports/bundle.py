"""The evidence bundle of one period: a ZIP an auditor can verify offline."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from common.csvexport import csv_writer
from common.periods import format_period, period_bounds
from evidence.models import GENESIS_HASH, canonical_json
from evidence.selectors import chain_head, chain_span_for_period, iter_events, verify_chain
from exceptions_register.choices import SignatureDecision, SignatureMethod
from exceptions_register.models import Signature
from findings.models import Finding

from .models import ReportKind
from .selectors import latest_reports

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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(data)).decode("ascii").rstrip("=")


def _signatures(period: date, tz) -> list[dict[str, Any]]:
    """Every signature of an exception in force at some instant of the period (or signed in
    it): the exact text, its SHA-256, the method and, for a passkey, the assertion and the
    credential's public key an auditor checks it with."""
    start, end = period_bounds(period, tz)
    qs = (
        Signature.objects.filter(decision=SignatureDecision.SIGNED, signed_at__lt=end)
        .filter(exception__expires_at__gt=start)
        .exclude(exception__ended_at__lte=start)
        .select_related("exception")
        .order_by("signed_at", "id")
    )
    lines = []
    for s in qs:
        line: dict[str, Any] = {
            "exception": str(s.exception.uuid),
            "version": s.exception.version,
            "signer": s.user_email,
            "signed_at": s.signed_at.isoformat(),
            "method": s.method,
            "signed_text": s.signed_text,
            "text_sha256": s.text_sha256,
        }
        if s.method == SignatureMethod.PASSKEY:
            line |= {
                "rp_id": s.rp_id,
                "credential_id": s.credential_id,
                "credential_public_key": _b64url(s.credential_public_key),
                "authenticator_data": _b64url(s.authenticator_data),
                "client_data_json": _b64url(s.client_data_json),
                "signature": _b64url(s.assertion_signature),
            }
        lines.append(line)
    return lines


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
    signatures = _signatures(period, tz)
    files.append(
        (
            "evidence/signatures.jsonl",
            "".join(canonical_json(line) + "\n" for line in signatures).encode("utf-8"),
        )
    )
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
        "signatures": {
            "file": "evidence/signatures.jsonl",
            "count": len(signatures),
            "passkey": sum(1 for line in signatures if line["method"] == SignatureMethod.PASSKEY),
            "rp_ids": sorted(
                {settings.WEBAUTHN_RP_ID}
                | {line["rp_id"] for line in signatures if line.get("rp_id")}
            ),
            "rule": "text_sha256 = sha256(signed_text, UTF-8). A passkey signature is a WebAuthn "
            "assertion: clientDataJSON has type webauthn.get and challenge = base64url(sha256("
            "signed_text)); authenticatorData starts with sha256(rp_id) and has the user-present "
            "and user-verified flags; signature verifies over authenticatorData || "
            "sha256(clientDataJSON) with credential_public_key (COSE_Key: ES256, EdDSA or "
            "RS256). Binary fields are base64url without padding.",
        },
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

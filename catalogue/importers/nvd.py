"""NVD CVE API 2.0: whole response pages, or bare ``cve`` objects (one per file, or a list)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils.dateparse import parse_datetime

from ..choices import SeverityTier
from ..models import Vulnerability
from .base import (
    Counts,
    ImportFileError,
    Progress,
    parse_cvss3,
    parse_cvss4,
    read_json,
    severity_from_score,
    upsert,
)

AWAITING = {"awaiting analysis", "received", "undergoing analysis", "deferred"}


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # NVD timestamps are UTC without an offset
    return parsed


def _pick(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Primary (NVD's own) over Secondary (the CNA's)."""
    if not metrics:
        return None
    primary = [m for m in metrics if m.get("type") == "Primary"]
    return (primary or metrics)[0]


def cve_objects(doc: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("vulnerabilities"), list):
        items = [v.get("cve") for v in doc["vulnerabilities"] if isinstance(v, dict)]
    elif isinstance(doc, dict) and "id" in doc and "descriptions" in doc:
        items = [doc]
    elif isinstance(doc, list):
        items = [v.get("cve", v) if isinstance(v, dict) else None for v in doc]
    else:
        raise ImportFileError(f"{name}: not an NVD CVE API 2.0 response or cve object")
    if any(not isinstance(i, dict) or not str(i.get("id", "")).startswith("CVE-") for i in items):
        raise ImportFileError(f"{name}: an entry has no CVE id")
    return items


def vulnerability_row(cve: dict[str, Any]) -> dict[str, Any]:
    metrics = cve.get("metrics") or {}
    row: dict[str, Any] = {
        "cve_id": cve["id"],
        "description": next(
            (d.get("value", "") for d in cve.get("descriptions", []) if d.get("lang") == "en"), ""
        ),
        "published_at": _when(cve.get("published")),
        "last_modified_at": _when(cve.get("lastModified")),
        "nvd_status": str(cve.get("vulnStatus") or "")[:40],
        "cwes": sorted(
            {
                d.get("value", "")
                for w in cve.get("weaknesses", [])
                for d in w.get("description", [])
                if str(d.get("value", "")).startswith("CWE-")
            }
        ),
    }
    v3 = _pick(metrics.get("cvssMetricV31") or metrics.get("cvssMetricV30") or [])
    if v3:
        parsed = parse_cvss3(v3.get("cvssData", {}).get("vectorString"))
        if parsed:
            row["cvss3_vector"], row["cvss3_score"] = parsed
            row["cvss3_source"] = (v3.get("source") or "")[:100]
    v4 = _pick(metrics.get("cvssMetricV40") or [])
    if v4:
        parsed = parse_cvss4(v4.get("cvssData", {}).get("vectorString"))
        if parsed:
            row["cvss4_vector"], row["cvss4_score"] = parsed
            row["cvss4_source"] = (v4.get("source") or "")[:100]
    # Scores are written only when the record has them, so a record without metrics never wipes
    # a score another source (the CNA's CVE 5 record, MSRC) filled in.
    if row["nvd_status"].lower() in AWAITING:
        row["cvss_severity"] = SeverityTier.UNKNOWN
    else:
        score = row.get("cvss3_score")
        row["cvss_severity"] = severity_from_score(
            score if score is not None else row.get("cvss4_score")
        )
    return row


def import_nvd(path: Path, *, progress: Progress | None = None) -> Counts:
    items = cve_objects(read_json(path), path.name)
    if not items:
        raise ImportFileError(f"{path.name}: no CVE records")
    counts = Counts()
    upsert(
        Vulnerability,
        [vulnerability_row(c) for c in items],
        key=("cve_id",),
        counts=counts,
        table="vulnerabilities",
        progress=progress,
    )
    return counts

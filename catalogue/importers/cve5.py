"""CVE JSON 5 records (CNA + CISA-ADP): CVSS where NVD has none yet, and SSVC Exploitation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..choices import SsvcExploitation
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
from .nvd import _when


def _metrics(record: dict[str, Any]) -> list[dict[str, Any]]:
    containers = record.get("containers", {})
    out = list(containers.get("cna", {}).get("metrics", []))
    for adp in containers.get("adp", []):
        out.extend(adp.get("metrics", []))
    return out


def ssvc_exploitation(record: dict[str, Any]) -> str:
    for metric in _metrics(record):
        other = metric.get("other") or {}
        if str(other.get("type", "")).lower() != "ssvc":
            continue
        for option in other.get("content", {}).get("options", []):
            for name, value in option.items():
                if name.lower() == "exploitation":
                    value = str(value).strip().lower()
                    if value in SsvcExploitation.values:
                        return value
    return SsvcExploitation.UNKNOWN


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    meta = record.get("cveMetadata") or {}
    cve = meta.get("cveId")
    if record.get("dataType") != "CVE_RECORD" or not str(cve).startswith("CVE-"):
        raise ImportFileError("not a CVE JSON 5 record (dataType CVE_RECORD with cveMetadata)")
    cna = record.get("containers", {}).get("cna", {})
    row: dict[str, Any] = {
        "cve_id": cve,
        "description": next(
            (
                d.get("value", "")
                for d in cna.get("descriptions", [])
                if d.get("lang", "")[:2] == "en"
            ),
            "",
        ),
        "published_at": _when(meta.get("datePublished")),
        "ssvc_exploitation": ssvc_exploitation(record),
    }
    for metric in _metrics(record):
        for key in ("cvssV3_1", "cvssV3_0"):
            if key in metric and "cvss3_vector" not in row:
                parsed = parse_cvss3(metric[key].get("vectorString"))
                if parsed:
                    row["cvss3_vector"], row["cvss3_score"] = parsed
                    row["cvss3_source"] = "cve.org"
        if "cvssV4_0" in metric and "cvss4_vector" not in row:
            parsed = parse_cvss4(metric["cvssV4_0"].get("vectorString"))
            if parsed:
                row["cvss4_vector"], row["cvss4_score"] = parsed
                row["cvss4_source"] = "cve.org"
    score = row.get("cvss3_score") if row.get("cvss3_score") is not None else row.get("cvss4_score")
    row["cvss_severity"] = severity_from_score(score)
    return row


def import_cve5(path: Path, *, progress: Progress | None = None) -> Counts:
    files = sorted(path.glob("**/CVE-*.json")) if path.is_dir() else [path]
    if not files:
        raise ImportFileError(f"{path}: no CVE-*.json records")
    rows = []
    for f in files:
        doc = read_json(f)
        try:
            rows.append(record_row(doc if isinstance(doc, dict) else {}))
        except ImportFileError as exc:
            raise ImportFileError(f"{f.name}: {exc}") from exc
    counts = Counts()
    upsert(
        Vulnerability,
        rows,
        key=("cve_id",),
        counts=counts,
        table="vulnerabilities",
        # NVD owns scores and text; a CVE 5 record fills them only while NVD has not.
        fill_only=(
            "description",
            "published_at",
            "cvss3_vector",
            "cvss3_score",
            "cvss3_source",
            "cvss4_vector",
            "cvss4_score",
            "cvss4_source",
            "cvss_severity",
        ),
        progress=progress,
    )
    return counts
